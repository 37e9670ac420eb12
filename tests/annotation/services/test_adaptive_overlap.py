"""Adaptive overlap: a task that reaches its target disputed asks for one more judgement, up to the
project's maximum; agreed tasks, gold tasks and projects without the setting complete as before."""
import pytest

from annotation.models import Task
from annotation.quality.disputes import answer_key, disagreement, is_disputed
from annotation.services import judgements, queue
from tests import factories


def judge(project, task, prefer: int):
    """A new annotator claims `task` (the only open one) and prefers its slot `prefer`."""
    annotator = factories.member(project, "annotator")
    lease = queue.task_next(project=project, annotator=annotator)
    assert lease is not None and lease.task_id == task.pk
    ids = list(task.slots.order_by("position").values_list("response_id", flat=True))
    judgements.judgement_submit(assignment=lease, ranking=[[ids[prefer]], [ids[1 - prefer]]])
    task.refresh_from_db()
    return task


@pytest.fixture
def adaptive(db):
    return factories.ProjectFactory(overlap=2, adaptive_overlap=True, max_overlap=4, dispute_threshold=0.25)


def test_a_disputed_task_gets_more_judgements_up_to_the_maximum(adaptive):
    task = factories.task(adaptive)
    assert judge(adaptive, task, 0).status == Task.Status.OPEN
    task = judge(adaptive, task, 1)  # 1-1: disputed
    assert (task.target_judgements, task.completed_judgements, task.status) == (3, 2, Task.Status.OPEN)
    task = judge(adaptive, task, 1)  # 2-1: still disputed (1/3 > 0.25)
    assert (task.target_judgements, task.status) == (4, Task.Status.OPEN)
    task = judge(adaptive, task, 0)  # 2-2: disputed, but 4 is the maximum
    assert (task.target_judgements, task.completed_judgements, task.status) == (4, 4, Task.Status.COMPLETE)


def test_agreement_completes_at_the_target(adaptive):
    task = factories.task(adaptive)
    judge(adaptive, task, 0)
    task = judge(adaptive, task, 0)
    assert (task.target_judgements, task.status) == (2, Task.Status.COMPLETE)


def test_a_split_settled_by_the_extra_judgement_completes(adaptive):
    adaptive.dispute_threshold = 0.4
    adaptive.save()
    task = factories.task(adaptive)
    judge(adaptive, task, 0)
    judge(adaptive, task, 1)  # 1/2 > 0.4: one more
    task = judge(adaptive, task, 0)  # 2-1: 1/3 is not above 0.4
    assert (task.target_judgements, task.status) == (3, Task.Status.COMPLETE)


@pytest.mark.parametrize("setting", ["off", "gold"])
def test_without_the_setting_or_on_gold_tasks_the_target_stays(adaptive, setting):
    if setting == "off":
        adaptive.adaptive_overlap = False
        adaptive.save()
    task = factories.task(adaptive, **({"is_gold": True, "gold_ranking": [[1], [2]]} if setting == "gold" else {}))
    judge(adaptive, task, 0)
    task = judge(adaptive, task, 1)
    assert (task.target_judgements, task.status) == (2, Task.Status.COMPLETE)


def test_answers_and_disagreement():
    a, b = answer_key(ranking=[[1], [2]], both_bad=False), answer_key(ranking=[[2], [1]], both_bad=False)
    tie, bad = answer_key(ranking=[[2, 1]], both_bad=False), answer_key(ranking=[[1, 2]], both_bad=True)
    assert tie == answer_key(ranking=[[1, 2]], both_bad=False) and bad == "both_bad"
    assert disagreement([a, a, b]) == pytest.approx(1 / 3)
    assert disagreement([a, b, tie, bad]) == 0.75
    assert disagreement([a]) == 0
    assert not is_disputed(answers=[a, a, a, b], threshold=0.25)  # 1/4 is not *above* 0.25
    assert is_disputed(answers=[a, a, b], threshold=0.25)


def test_a_tie_stored_in_another_order_is_the_same_answer(adaptive):
    from annotation.quality.disputes import disputed_task_ids

    task = factories.task(adaptive)
    a, b = task.slots.order_by("position").values_list("response_id", flat=True)
    factories.judgement(task, factories.member(adaptive, "annotator"), [[a, b]])
    factories.judgement(task, factories.member(adaptive, "annotator"), [[b, a]])
    assert disputed_task_ids(project=adaptive) == {}
    factories.judgement(task, factories.member(adaptive, "annotator"), [[a], [b]])
    assert disputed_task_ids(project=adaptive) == {task.pk: pytest.approx(1 / 3, abs=1e-4)}
