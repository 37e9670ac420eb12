"""What the quality dashboard plots: judgements per day, agreement per day, the distribution of
answers, and each annotator's throughput (judgements per day on which they worked). Cached."""
from collections import Counter, defaultdict

from django.db.models import Count
from django.db.models.functions import TruncDate

from annotation.models import Judgement, Project

from . import metrics
from .units import cached, computed, judgement_rows, units_build


def dashboard_data(*, project: Project, wait: bool = True):
    return cached(project=project, name="dashboard", wait=wait)


@computed("dashboard")
def _compute(project: Project) -> dict:
    per_day = list(Judgement.objects.filter(task__project=project).annotate(day=TruncDate("created_at"))
                   .values_list("day").annotate(n=Count("id")).values_list("day", "n").order_by("day"))
    worked = defaultdict(lambda: [0, 0])  # username -> [judgements, days worked]
    for username, _, n in (Judgement.objects.filter(task__project=project).annotate(day=TruncDate("created_at"))
                           .values_list("annotator__username", "day").annotate(n=Count("id"))):
        worked[username][0] += n
        worked[username][1] += 1
    units = units_build(rows=judgement_rows(project=project))
    labels = Counter(choice for unit in units.labels for _, choice, _, _ in unit)
    by_day = defaultdict(list)
    for unit in units.labels:
        if len(unit) >= 2:
            by_day[max(day for *_, day in unit)].append([choice for _, choice, _, _ in unit])
    agreement = [(day, metrics.percent_agreement(metrics.value_counts(groups, metrics.CHOICES)), len(groups))
                 for day, groups in sorted(by_day.items())]
    return {"per_day": per_day, "agreement_by_day": agreement,
            "labels": [(choice, labels.get(choice, 0)) for choice in metrics.CHOICES],
            "throughput": sorted(((name, n / days) for name, (n, days) in worked.items()), key=lambda t: -t[1])}
