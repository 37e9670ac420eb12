"""Tasks with their prompt and responses (in slot order), filtered as the tasks API asks."""
from django.db.models import Prefetch, QuerySet

from annotation.models import Project, Task, TaskSlot


def tasks_with_responses(*, project: Project) -> QuerySet[Task]:
    slots = TaskSlot.objects.select_related("response").order_by("position")
    return (Task.objects.filter(project=project).select_related("prompt")
            .prefetch_related(Prefetch("slots", queryset=slots)))


def tasks_filter(*, project: Project, status: str | None = None, batch_id: int | None = None,
                 is_gold: bool | None = None, min_priority: float | None = None) -> QuerySet[Task]:
    """The project's tasks narrowed by every filter given (None means "any")."""
    qs = tasks_with_responses(project=project)
    if status is not None:
        qs = qs.filter(status=status)
    if batch_id is not None:
        qs = qs.filter(batch_id=batch_id)
    if is_gold is not None:
        qs = qs.filter(is_gold=is_gold)
    if min_priority is not None:
        qs = qs.filter(priority__gte=min_priority)
    return qs
