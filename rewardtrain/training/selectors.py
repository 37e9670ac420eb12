"""Reads for the run pages: runs of a project, one run, its metric series as chart data."""
from django.http import Http404

from annotation.models import Project

from ..models import TrainingMetric, TrainingRun


def runs_of_project(*, project: Project):
    return (TrainingRun.objects.filter(project=project)
            .select_related("snapshot", "created_by", "model_version").order_by("-created_at"))


def run_of_project(*, project: Project, run_id: int) -> TrainingRun:
    run = runs_of_project(project=project).filter(pk=run_id).first()
    if run is None:
        raise Http404("No such training run in this project.")
    return run


def run_curves(*, run: TrainingRun, width: int = 560, height: int = 220, pad: int = 36) -> list[dict]:
    """Loss and accuracy against step, scaled into an SVG box: one chart per measure.

    Each chart has polylines (training steps) and points (evaluations) already in pixel space,
    plus labelled axis ends, so the template only draws.
    """
    rows = list(TrainingMetric.objects.filter(run=run).values_list("kind", "step", "loss", "accuracy"))
    if not rows:
        return []
    max_step = max(step for _, step, *_ in rows) or 1
    charts = []
    for index, measure in ((2, "loss"), (3, "accuracy")):
        values = [r[index] for r in rows if r[index] is not None]
        if not values:
            continue
        low, high = (0.0, 1.0) if measure == "accuracy" else (min(0.0, min(values)), max(values) or 1.0)
        span = (high - low) or 1.0

        def xy(step, value):
            return (round(pad + (width - 2 * pad) * step / max_step, 1),
                    round(height - pad - (height - 2 * pad) * (value - low) / span, 1))

        train = [xy(s, r[index]) for r in rows if r[0] == "train" and r[index] is not None for s in [r[1]]]
        evals = [xy(s, r[index]) for r in rows if r[0] == "eval" and r[index] is not None for s in [r[1]]]
        charts.append({
            "measure": measure, "width": width, "height": height, "pad": pad, "max_step": max_step,
            "low": round(low, 3), "high": round(high, 3), "train": " ".join(f"{x},{y}" for x, y in train),
            "evals": evals, "x_end": width - pad, "y_end": height - pad,
        })
    return charts
