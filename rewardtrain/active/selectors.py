"""Reads of acquisition rounds for the API, the pages and the command."""
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from annotation.models import Project, Task

from ..models import AcquisitionPick, AcquisitionRound


def acquisition_rounds_of_project(*, project: Project) -> QuerySet:
    """Newest first, with the judgements the picks have collected so far (labels per round)."""
    return (AcquisitionRound.objects.filter(project=project).select_related("model_version", "created_by")
            .annotate(labels=Count("picks__task__judgements", distinct=True),
                      picks_done=Count("picks", filter=Q(picks__task__status="complete"), distinct=True)))


def acquisition_round_of_project(*, project: Project, round_id: int) -> AcquisitionRound:
    """One round of the project; 404 for a round of another project."""
    round_ = acquisition_rounds_of_project(project=project).filter(pk=round_id).first()
    if round_ is None:
        raise Http404("No such acquisition round in this project.")
    return round_


def acquisition_round_picks(*, round_: AcquisitionRound) -> QuerySet:
    """The round's picks in rank order, with their task's state and prompt."""
    return (AcquisitionPick.objects.filter(round=round_).select_related("task", "task__prompt")
            .order_by("rank"))


def acquisition_pool_size(*, project: Project) -> int:
    return Task.objects.filter(project=project, status=Task.Status.POOL).count()


def acquisition_labels_chart(*, rounds) -> list[dict]:
    """Series for the rounds chart, oldest round first: tasks opened and judgements collected per round."""
    done = sorted((r for r in rounds if r.status == AcquisitionRound.Status.SUCCEEDED), key=lambda r: r.pk)
    return [{"name": "tasks opened", "points": [(i + 1, r.picked) for i, r in enumerate(done)]},
            {"name": "judgements so far", "points": [(i + 1, r.labels) for i, r in enumerate(done)]}]
