"""Judgements as the API lists them: who may see which, and the list filters."""
from datetime import date

from django.db.models import QuerySet

from annotation.models import Judgement, Project
from annotation.permissions import DATA_ROLES, user_roles


def judgements_visible(*, project: Project, user) -> QuerySet[Judgement]:
    """Admins and ML engineers see every judgement of the project; an annotator only their own."""
    qs = Judgement.objects.filter(task__project=project).select_related("annotator", "rubric")
    if not user_roles(user=user, project=project) & set(DATA_ROLES):
        qs = qs.filter(annotator=user)
    return qs


def judgements_filter(*, judgements: QuerySet[Judgement], since: date | None = None, until: date | None = None,
                      task_id: int | None = None, annotator_id: int | None = None) -> QuerySet[Judgement]:
    """`judgements` narrowed by every filter given (None means "any"); dates inclusive, by day recorded."""
    if since:
        judgements = judgements.filter(created_at__date__gte=since)
    if until:
        judgements = judgements.filter(created_at__date__lte=until)
    if task_id is not None:
        judgements = judgements.filter(task_id=task_id)
    if annotator_id is not None:
        judgements = judgements.filter(annotator_id=annotator_id)
    return judgements


def judgement_of_assignment(*, assignment) -> Judgement | None:
    """The judgement the lease's annotator gave its task (through this lease or another), if any."""
    return Judgement.objects.filter(task_id=assignment.task_id, annotator_id=assignment.annotator_id).first()


def judgement_last(*, project: Project, user) -> Judgement | None:
    """The user's most recent judgement in the project: the one they may revise."""
    return (Judgement.objects.filter(annotator=user, task__project=project).select_related("assignment")
            .order_by("-created_at", "-pk").first())
