"""Reads for the model pages."""
from django.http import Http404

from annotation.models import Project

from ..models import ModelVersion

PLOTS = ("reliability", "reward_histogram")


def models_of_project(*, project: Project):
    return ModelVersion.objects.filter(project=project).select_related("run__snapshot").order_by("-version")


def model_of_project(*, project: Project, model_id) -> ModelVersion:
    model = models_of_project(project=project).prefetch_related("events__user").filter(pk=model_id).first()
    if model is None:
        raise Http404("No such model version in this project.")
    return model


def model_plot_name(*, model: ModelVersion, plot: str) -> str:
    name = (model.validation_report.get("plots") or {}).get(plot) if plot in PLOTS else None
    if not name:
        raise Http404("No such plot for this model version.")
    return name


COMPARED = (("accuracy", "Accuracy (ties wrong)"), ("ece", "ECE"), ("loss", "Loss"),
            ("length_correlation", "Reward–length correlation"), ("n", "Validation pairs"))


def models_compared(*, a: ModelVersion, b: ModelVersion) -> dict:
    """Both reports side by side; they are on the same rows only when both validated on one snapshot."""
    ra, rb = a.validation_report, b.validation_report
    criteria = sorted(set(ra.get("accuracy_by_criterion") or {}) | set(rb.get("accuracy_by_criterion") or {}))
    return {
        "same_rows": bool(a.run and b.run and a.run.snapshot_id == b.run.snapshot_id),
        "rows": [(label, ra.get(key), rb.get(key)) for key, label in COMPARED],
        "criteria": [(c, ((ra.get("accuracy_by_criterion") or {}).get(c) or {}).get("accuracy"),
                      ((rb.get("accuracy_by_criterion") or {}).get(c) or {}).get("accuracy")) for c in criteria],
    }
