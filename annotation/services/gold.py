"""Gold tasks: marking a task gold with its expected answer (scoring the answers it has), unmarking,
and the project's gold rate (how often a gold task is served first)."""
from django.db import transaction

from annotation.models import Judgement, Project, Task, TaskSlot

from .judgements import JudgementInvalid, gold_matches, ranking_validate

MAX_TARGET = 32767  # Task.target_judgements is a PostgreSQL smallint


@transaction.atomic
def task_mark_gold(*, task: Task, gold_ranking, target_judgements: int | None = None) -> Task:
    """Makes a task gold with its expected answer and scores the answers it already has.

    Gold tasks obey their target like any task; pass `target_judgements` (e.g. the team size) to
    show the gold item to more annotators.
    """
    task = Task.objects.select_for_update().get(pk=task.pk)
    response_ids = list(TaskSlot.objects.filter(task=task).values_list("response_id", flat=True))
    task.gold_ranking = ranking_validate(ranking=gold_ranking, response_ids=response_ids, allow_ties=True,
                                         field="gold_ranking")
    task.is_gold = True
    if target_judgements is not None:
        if not isinstance(target_judgements, int) or not 1 <= target_judgements <= MAX_TARGET:
            raise JudgementInvalid("target_judgements", f"must be an integer from 1 to {MAX_TARGET}.")
        task.target_judgements = target_judgements
        if task.status == Task.Status.COMPLETE and task.completed_judgements < target_judgements:
            task.status = Task.Status.OPEN
    task.save(update_fields=["gold_ranking", "is_gold", "target_judgements", "status"])
    for judgement in Judgement.objects.filter(task=task).only("id", "ranking"):
        Judgement.objects.filter(pk=judgement.pk).update(
            gold_correct=gold_matches(ranking=judgement.ranking, gold_ranking=task.gold_ranking))
    return task


@transaction.atomic
def task_unmark_gold(*, task: Task) -> Task:
    task = Task.objects.select_for_update().get(pk=task.pk)
    task.is_gold, task.gold_ranking = False, None
    task.save(update_fields=["is_gold", "gold_ranking"])
    Judgement.objects.filter(task=task).update(gold_correct=None)
    return task


@transaction.atomic
def project_set_gold_rate(*, project: Project, percent) -> Project:
    """Serves gold tasks to `percent` (0–100) of requests for work; raises ValueError with the reason."""
    try:
        value = float(str(percent).strip().rstrip("%"))
    except ValueError:
        raise ValueError(f"The gold rate must be a number of percent, not {str(percent)[:20]!r}.")
    if not 0 <= value <= 100:
        raise ValueError("The gold rate must be between 0 and 100 percent.")
    project.gold_rate = value / 100
    project.save(update_fields=["gold_rate"])
    return project
