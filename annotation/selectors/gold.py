"""Gold-task quality: how each annotator answered the gold tasks of a project (one query, two uses:
the admins' gold page shows accuracy; weighted snapshots weigh votes by it)."""
from django.db.models import Count, Q

from annotation.models import Judgement, Project


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
