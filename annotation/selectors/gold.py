"""Gold tasks: the list and form of the admins' gold pages, and how each annotator answered them (one
query, two uses: the gold page shows accuracy; weighted snapshots weigh votes by reliability)."""
from django.db.models import Count, Q, QuerySet

from annotation.models import Judgement, Project, Task
from annotation.parsing import ascii_int
from annotation.rendering import markdown_to_safe_html

from .workspace import LETTERS


def gold_answers(*, project: Project) -> list[dict]:
    """Per annotator who answered gold tasks: id, username, gold answers given and how many matched."""
    rows = (Judgement.objects.filter(task__project=project, gold_correct__isnull=False)
            .values("annotator_id", "annotator__username")
            .annotate(answers=Count("id"), correct=Count("id", filter=Q(gold_correct=True)))
            .order_by("annotator__username"))
    return [{"annotator_id": r["annotator_id"], "annotator": r["annotator__username"], "answers": r["answers"],
             "correct": r["correct"]} for r in rows]


def gold_accuracy(*, project: Project) -> list[dict]:
    """Per annotator: gold answers given and how many matched, best accuracy last (to see who needs help first)."""
    result = [{"annotator": r["annotator"], "answers": r["answers"], "correct": r["correct"],
               "accuracy": r["correct"] / r["answers"]} for r in gold_answers(project=project)]
    return sorted(result, key=lambda r: r["accuracy"])


def gold_reliability(*, project: Project) -> dict[int, float]:
    """Posterior mean accuracy on gold tasks by annotator id, Beta(1, 1) prior: (correct + 1) / (answered + 2)."""
    return {r["annotator_id"]: (r["correct"] + 1) / (r["answers"] + 2) for r in gold_answers(project=project)}


def gold_tasks_list(*, project: Project, limit: int = 200) -> QuerySet[Task]:
    """The project's gold tasks, newest first, with what the gold page shows."""
    return Task.objects.filter(project=project, is_gold=True).order_by("-id").only(
        "id", "external_id", "status", "completed_judgements", "target_judgements")[:limit]


def task_by_ref(*, project: Project, ref: str) -> Task | None:
    """A task of the project by id, or else by its external id; None when neither matches."""
    if "\x00" in ref:  # no stored id holds one, and PostgreSQL refuses it in a query
        return None
    return (Task.objects.filter(project=project, pk=ascii_int(ref)).first()
            or Task.objects.filter(project=project, external_id=ref).first())


def gold_task_responses(*, task: Task) -> list[dict]:
    """The task's responses in slot order as the gold form shows them: letter, rendered text and the
    rank the current gold answer gives each ("" where there is none)."""
    rank_of = {response_id: rank for rank, group in enumerate(task.gold_ranking or [], start=1)
               for response_id in group}
    return [{"id": slot.response_id, "label": LETTERS[i], "text": slot.response.text,
             "html": markdown_to_safe_html(slot.response.text), "rank": rank_of.get(slot.response_id, "")}
            for i, slot in enumerate(task.slots.select_related("response").order_by("position"))]
