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
