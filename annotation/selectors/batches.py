"""Batches with their task counts, as the batches API lists them."""
from django.db.models import Count, QuerySet

from annotation.models import Batch, Project


def batches_with_counts(*, project: Project) -> QuerySet[Batch]:
    return Batch.objects.filter(project=project).select_related("created_by").annotate(task_count=Count("tasks"))
