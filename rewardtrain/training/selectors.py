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


def run_curves(*, run: TrainingRun) -> list[dict]:
    """Loss and accuracy against optimizer step, one entry per measure that has values:
    {"measure", "series": [{"name", "points": [(step, value), ...]}]} (training batches, validation)."""
    rows = list(TrainingMetric.objects.filter(run=run).order_by("step")
                .values_list("kind", "step", "loss", "accuracy"))
    curves = []
    for index, measure in ((2, "loss"), (3, "accuracy")):
        series = [{"name": name, "points": [(r[1], r[index]) for r in rows if r[0] == kind and r[index] is not None]}
                  for kind, name in ((TrainingMetric.Kind.TRAIN, "training batches"),
                                     (TrainingMetric.Kind.EVAL, "validation"))]
        series = [s for s in series if s["points"]]
        if series:
            curves.append({"measure": measure, "series": series})
    return curves
