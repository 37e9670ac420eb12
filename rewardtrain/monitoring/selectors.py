"""Reads for the monitoring page and API: alerts, and the daily series of the project's models."""
from __future__ import annotations

from datetime import date

from annotation.models import Project

from ..models import Alert, ModelVersion, ScoreDaily
from ..scoring.stats import score_day_summary


def alerts_of(*, project: Project, status: str | None = None):
    alerts = Alert.objects.filter(project=project).select_related("model_version", "acknowledged_by", "resolved_by")
    return alerts.filter(status=status) if status else alerts


def score_series_of(*, project: Project, models: int = 4) -> list[dict]:
    """The daily statistics of the active model and the versions active before it (those with served
    scores, newest first, at most `models`): [{"model", "days": [summary, ...]}]."""
    versions = list(ModelVersion.objects.filter(project=project, score_days__isnull=False).distinct())
    versions.sort(key=lambda m: (m.status != ModelVersion.Status.ACTIVE, -m.version))
    out = []
    for model in versions[:models]:
        rows = ScoreDaily.objects.filter(model_version=model).order_by("day")
        out.append({"model": model, "days": [score_day_summary(r) for r in rows]})
    return out


def day_number(day: str, today: date) -> int:
    """A day as its offset from today (0 today, -1 yesterday), the plots' x axis."""
    return (date.fromisoformat(day) - today).days
