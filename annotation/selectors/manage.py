"""Reads of the project admin's workspace: members with their roles, batches with progress, the task
browser, a task's judgements as people read them, and the adjudication queue."""
from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from annotation.models import Batch, Judgement, Membership, Project, Task, TaskSlot
from annotation.quality.disputes import disputed_task_ids

from .tasks import tasks_filter
from .workspace import LETTERS


def members_list(*, project: Project) -> list[dict]:
    """One row per member: user, username and roles (sorted), by username."""
    rows: dict[int, dict] = {}
    for m in Membership.objects.filter(project=project).select_related("user").order_by("user__username", "role"):
        row = rows.setdefault(m.user_id, {"user": m.user, "user_id": m.user_id, "username": m.user.username,
                                          "roles": []})
        row["roles"].append(m.role)
    return list(rows.values())


def member_roles(*, project: Project, username: str) -> list[str]:
    """The roles a user holds in the project, sorted (none for a non-member or an unknown user)."""
    return sorted(Membership.objects.filter(project=project, user__username=username).values_list("role", flat=True))


def batches_progress(*, project: Project) -> QuerySet[Batch]:
    """The project's batches, newest first, with task counts by status and judgements done / wanted."""
    by_status = {f"tasks_{s}": Count("tasks", filter=Q(tasks__status=s)) for s in Task.Status.values}
    return (Batch.objects.filter(project=project).select_related("created_by")
            .annotate(task_count=Count("tasks"), judgements_done=Sum("tasks__completed_judgements"),
                      judgements_wanted=Sum("tasks__target_judgements"), **by_status)
            .order_by("-created_at", "-id"))


def tasks_browse(*, project: Project, status: str | None = None, batch_id: int | None = None,
                 is_gold: bool | None = None, disputed: bool | None = None) -> QuerySet[Task]:
    """The task browser's list, newest first, narrowed by every filter given (None means "any")."""
    qs = tasks_filter(project=project, status=status, batch_id=batch_id, is_gold=is_gold)
    qs = qs.select_related("batch", "adjudication").order_by("-id")
    if disputed is not None:
        ids = list(disputed_task_ids(project=project))
        qs = qs.filter(pk__in=ids) if disputed else qs.exclude(pk__in=ids)
    return qs


def task_with_judgements() -> QuerySet[Task]:
    """Tasks with what `judgement_rows` and the task page read, in a fixed number of queries."""
    judgements = Judgement.objects.select_related("annotator").order_by("created_at", "id")
    slots = TaskSlot.objects.select_related("response").order_by("position")
    return (Task.objects.select_related("prompt", "batch", "adjudication", "adjudication__decided_by")
            .prefetch_related(Prefetch("judgements", queryset=judgements), Prefetch("slots", queryset=slots)))


def disputed_tasks(*, project: Project, include_adjudicated: bool = False) -> tuple[QuerySet[Task], dict[int, float]]:
    """The adjudication queue: disputed tasks (oldest first), with their judgements, responses and
    any verdict prefetched; and task id -> disagreement."""
    disputed = disputed_task_ids(project=project)
    qs = task_with_judgements().filter(project=project, pk__in=list(disputed)).order_by("id")
    if not include_adjudicated:
        qs = qs.filter(adjudication__isnull=True)
    return qs, disputed


def ranking_text(ranking, letter_of: dict[int, str]) -> str:
    """A ranking as people read it, by the responses' letters in slot order: "B > A", "A = B > C"."""
    return " > ".join(" = ".join(sorted(letter_of.get(r, "?") for r in (g if isinstance(g, list) else [g])))
                      for g in ranking)


def judgement_rows(*, task: Task, project: Project) -> list[dict]:
    """Every judgement of the task (prefetched or queried): annotator, answer, strength label,
    criteria, rationale (plain text: templates escape it), seconds and time."""
    letter_of = {slot.response_id: LETTERS[i] for i, slot in enumerate(task.slots.all())}
    scale = project.strength_scale or []
    rows = []
    for j in task.judgements.all():
        answer = "both bad" if j.both_bad else ranking_text(j.ranking, letter_of)
        rows.append({
            "id": j.pk, "annotator": j.annotator.username, "annotator_id": j.annotator_id, "answer": answer,
            "ranking": j.ranking, "both_bad": j.both_bad,
            "strength": j.strength, "strength_label": scale[j.strength] if j.strength is not None and
            j.strength < len(scale) else "",
            "criteria": {key: ranking_text(value, letter_of) for key, value in (j.criteria or {}).items()},
            "rationale": j.rationale, "seconds": round(j.duration_ms / 1000, 1) if j.duration_ms is not None else None,
            "created_at": j.created_at, "is_surplus": j.is_surplus, "gold_correct": j.gold_correct,
        })
    return rows
