"""Reads of acquisition rounds for the API, the pages and the command."""
from django.db.models import Count, Q, QuerySet

from annotation.models import Project

from ..models import AcquisitionPick, AcquisitionRound


def acquisition_rounds_of_project(*, project: Project) -> QuerySet:
    """Newest first, with the judgements the picks have collected so far (labels per round)."""
    return (AcquisitionRound.objects.filter(project=project).select_related("model_version", "created_by")
            .annotate(labels=Count("picks__task__judgements", distinct=True),
                      picks_done=Count("picks", filter=Q(picks__task__status="complete"), distinct=True)))


def acquisition_round_of_project(*, project: Project, round_id: int) -> AcquisitionRound:
    """One round of the project (DoesNotExist otherwise)."""
    return acquisition_rounds_of_project(project=project).get(pk=round_id)


def acquisition_round_picks(*, round_: AcquisitionRound) -> QuerySet:
    """The round's picks in rank order, with their task's state and prompt."""
    return (AcquisitionPick.objects.filter(round=round_).select_related("task", "task__prompt")
            .order_by("rank"))
