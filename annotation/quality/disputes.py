"""Disputed tasks: how much a task's judgements disagree on the overall answer.

An answer is the judgement's ranking as groups (ties are one group, so "tie" is an answer of its
own) or "both bad". A task's *disagreement* is the share of its judgements that differ from its
most common answer (0 when all agree; 1/2 for an A-vs-B split of two). A task with two or more
judgements is *disputed* when its disagreement is above the project's `dispute_threshold`. The
same rule drives adaptive overlap (services.judgements), the adjudication queue and the task
browser's filter.
"""
from collections import Counter
from collections.abc import Iterable
from itertools import groupby

from django.db.models import Case, Count, TextField, Value, When
from django.db.models.functions import Cast

from annotation.models import Judgement, Project, Task


def answer_key(*, ranking, both_bad: bool):
    if both_bad:
        return "both_bad"
    return tuple(tuple(sorted(group if isinstance(group, list) else [group])) for group in ranking)


def disagreement(answers: Iterable) -> float:
    answers = list(answers)
    if len(answers) < 2:
        return 0.0
    top = Counter(answers).most_common(1)[0][1]
    return 1 - top / len(answers)


def is_disputed(*, answers: Iterable, threshold: float) -> bool:
    answers = list(answers)
    return len(answers) >= 2 and disagreement(answers) > threshold + 1e-9


def task_is_disputed(*, task: Task, project: Project) -> bool:
    """From the judgements that count toward the task's target (late surplus ones do not)."""
    rows = Judgement.objects.filter(task=task, is_surplus=False).values_list("ranking", "both_bad")
    return is_disputed(answers=[answer_key(ranking=r, both_bad=b) for r, b in rows],
                       threshold=project.dispute_threshold)


def disputed_task_ids(*, project: Project) -> dict[int, float]:
    """Task id -> disagreement for every disputed task of the project (all judgements count here)."""
    # Candidates in SQL: two or more judgements whose stored answers are not all the same text (ties
    # stored in another order look different there, so this may keep too many, never too few).
    stored_answer = Case(When(judgements__both_bad=True, then=Value("both_bad")), output_field=TextField(),
                         default=Cast("judgements__ranking", TextField()))
    judged = (Task.objects.filter(project=project)
              .annotate(n=Count("judgements"), answers=Count(stored_answer, distinct=True))
              .filter(n__gte=2, answers__gte=2).values("pk"))
    rows = (Judgement.objects.filter(task_id__in=judged).order_by("task_id")
            .values_list("task_id", "ranking", "both_bad").iterator(chunk_size=5000))
    disputed = {}
    for task_id, group in groupby(rows, key=lambda row: row[0]):
        answers = [answer_key(ranking=r, both_bad=b) for _, r, b in group]
        if is_disputed(answers=answers, threshold=project.dispute_threshold):
            disputed[task_id] = round(disagreement(answers), 4)
    return disputed
