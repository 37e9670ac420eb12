"""Reads for the model pages."""
from django.http import Http404

from annotation.models import Project

from ..models import ModelEvent, ModelVersion

PLOTS = ("reliability", "reward_histogram")


def models_of_project(*, project: Project):
    return ModelVersion.objects.filter(project=project).select_related("run__snapshot").order_by("-version")


def model_rollback_target(*, active: ModelVersion | None) -> ModelVersion | None:
    """The version a rollback from `active` re-activates: the one active before its last promotion."""
    if active is None:
        return None
    promoted = (ModelEvent.objects.filter(model_version=active, action=ModelEvent.Action.PROMOTE)
                .select_related("previous_active").order_by("-at", "-id").first())
    return promoted.previous_active if promoted else None


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


# (key, label, +1 when higher is better / -1 when lower is better / 0 when neither)
COMPARED = (("accuracy", "Accuracy (ties wrong)", 1), ("ece", "ECE", -1), ("loss", "Validation loss", -1),
            ("length_correlation", "Reward–length correlation", 0))


def _row(label: str, left, right, better: int) -> dict:
    diff = left - right if left is not None and right is not None else None
    verdict = ("none" if diff is None else "same" if abs(diff) < 5e-4 or not better
               else "better" if diff * better > 0 else "worse")
    return {"label": label, "a": left, "b": right, "difference": diff, "verdict": verdict}


def models_compared(*, a: ModelVersion, b: ModelVersion) -> dict:
    """Both reports side by side with A − B; they are on the same rows only when both validated on one snapshot.

    ``verdict`` says whether A is better, worse or the same as B on that measure (from A's side)."""
    ra, rb = a.validation_report or {}, b.validation_report or {}
    by_a, by_b = ra.get("accuracy_by_criterion") or {}, rb.get("accuracy_by_criterion") or {}
    longer = [((r.get("baselines") or {}).get("longer_wins") or {}).get("accuracy") for r in (ra, rb)]
    return {
        "same_rows": bool(a.run and b.run and a.run.snapshot_id == b.run.snapshot_id),
        "snapshots": [a.run.snapshot if a.run else None, b.run.snapshot if b.run else None],
        "pairs": (ra.get("n"), rb.get("n")),
        "rows": [_row(label, ra.get(key), rb.get(key), better) for key, label, better in COMPARED]
        + [_row("Baseline: “longer response wins”", *longer, 0)],
        "criteria": [_row(c, (by_a.get(c) or {}).get("accuracy"), (by_b.get(c) or {}).get("accuracy"), 1)
                     for c in sorted(set(by_a) | set(by_b))],
    }
