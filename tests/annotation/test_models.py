import pytest
from django.db import IntegrityError, transaction

from annotation.models import Judgement, Task
from tests import factories


def test_task_create_dedupes_prompt_and_orders_slots(project):
    t1 = factories.task(project, n_responses=3, prompt="Same prompt")
    t2 = factories.task(project, n_responses=2, prompt="Same prompt")
    assert t1.prompt_id == t2.prompt_id
    assert [s.position for s in t1.slots.all()] == [0, 1, 2]
    assert t1.target_judgements == project.overlap


def test_one_judgement_per_task_and_annotator(project, annotator):
    task = factories.task(project)
    ids = list(task.responses.values_list("id", flat=True))
    Judgement.objects.create(task=task, annotator=annotator, ranking=[[ids[0]], [ids[1]]])
    with pytest.raises(IntegrityError), transaction.atomic():
        Judgement.objects.create(task=task, annotator=annotator, ranking=[[ids[1]], [ids[0]]])


def test_gold_task_needs_an_answer(project):
    task = factories.task(project)
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.filter(pk=task.pk).update(is_gold=True)
