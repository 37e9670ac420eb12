"""The model pages: list (promote, roll back, compare), detail with the report's plots."""
from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.permissions import DATA_ROLES, Role, has_role, project_role_required
from annotation.selectors.pairs import OVERALL_NAME

from . import charts

from ..monitoring.canaries import canary_shift_of
from ..models import ModelVersion
from ..registry.selectors import (model_of_project, model_plot_name, model_rollback_target, models_compared,
                                  models_of_project)
from ..registry.services import RegistryError, model_version_promote, model_version_rollback


def _can_change(request) -> bool:
    return has_role(user=request.user, project=request.project, roles=(Role.ML,))


@project_role_required(*DATA_ROLES)
def model_list(request, project_id):
    models = list(models_of_project(project=request.project))
    active = next((m for m in models if m.status == ModelVersion.Status.ACTIVE), None)
    return render(request, "rewardtrain/registry/models.html", {
        "project": request.project, "models": models, "can_change": _can_change(request),
        "rollback_to": model_rollback_target(active=active)})


# (key, label, +1 when higher is better / -1 when lower is better / 0 when neither)
HEADLINE = (("accuracy", "Accuracy (score ties count as wrong)", 1), ("ece", "Expected calibration error (ECE)", -1),
            ("ece_uncalibrated", "ECE before temperature scaling", -1),
            ("loss", "Validation loss", -1), ("length_correlation", "Reward–length correlation", 0))


def _difference(mine, theirs, better: int) -> dict | None:
    if mine is None or theirs is None:
        return None
    value = mine - theirs
    verdict = "same" if abs(value) < 5e-4 or not better else ("better" if value * better > 0 else "worse")
    return {"value": value, "verdict": verdict}


def headline_rows(report: dict) -> list[dict]:
    """The report's headline numbers beside the active model's on the same rows, with the difference."""
    active = report.get("active_model") or {}
    return [{"key": key, "label": label, "mine": report.get(key), "active": active.get(key),
             "difference": _difference(report.get(key), active.get(key), better)} for key, label, better in HEADLINE]


def criterion_label(name: str) -> str:
    return "Overall preference" if name in (OVERALL_NAME, "") else name


def report_charts(report: dict, *, version) -> dict:
    """The reliability diagram and reward histograms as labelled inline SVG (the PNGs stay downloadable)."""
    hist = report.get("reward_histogram") or {}
    return {
        "reliability": charts.reliability_chart(bins=report.get("reliability") or [],
                                                title=f"Reliability of v{version}: predicted vs observed",
                                                width=480, height=320),
        "histogram": charts.histogram_chart(
            series=[{"name": "chosen", "counts": hist.get("chosen") or []},
                    {"name": "rejected", "counts": hist.get("rejected") or []}],
            edges=hist.get("edges") or [0.0, 1.0], title=f"Rewards of v{version} on validation pairs",
            x_label="reward (model score)", y_label="responses", width=480, height=320),
    }


def _breakdown(rows: dict | None, label=str) -> list[tuple]:
    return [(label(name), row.get("accuracy"), row.get("pairs")) for name, row in (rows or {}).items()]


@project_role_required(*DATA_ROLES)
def model_detail(request, project_id, model_id):
    model = model_of_project(project=request.project, model_id=model_id)
    report = model.validation_report or {}
    return render(request, "rewardtrain/registry/model.html", {
        "project": request.project, "model": model, "report": report, "headline": headline_rows(report),
        "charts": report_charts(report, version=model.version),
        "by_criterion": _breakdown(report.get("accuracy_by_criterion"), criterion_label),
        "by_strength": _breakdown(report.get("accuracy_by_strength")),
        "canary": canary_shift_of(model=model), "can_change": _can_change(request)})


@project_role_required(*DATA_ROLES)
def model_plot(request, project_id, model_id, plot):
    name = model_plot_name(model=model_of_project(project=request.project, model_id=model_id), plot=plot)
    return FileResponse(default_storage.open(name, "rb"), content_type="image/png")


@project_role_required(*DATA_ROLES)
def model_compare(request, project_id):
    ids = request.GET.get("a"), request.GET.get("b")
    if not all(i and i.isdigit() for i in ids):
        messages.error(request, "Choose two model versions to compare.")
        return redirect("model-list", project_id=request.project.pk)
    a, b = (model_of_project(project=request.project, model_id=int(i)) for i in ids)
    compared = models_compared(a=a, b=b)
    for row in compared["criteria"]:
        row["label"] = criterion_label(row["label"])
    return render(request, "rewardtrain/registry/compare.html", {
        "project": request.project, "a": a, "b": b, **compared,
        "charts": [report_charts(m.validation_report or {}, version=m.version) for m in (a, b)]})


@require_POST
@project_role_required(Role.ML)
def model_promote(request, project_id, model_id):
    model = model_of_project(project=request.project, model_id=model_id)
    try:
        model_version_promote(model_version=model, user=request.user)
        messages.success(request, f"Version {model.version} is now the active model.")
    except RegistryError as exc:
        messages.error(request, str(exc))
    return redirect("model-list", project_id=request.project.pk)


@require_POST
@project_role_required(Role.ML)
def model_rollback(request, project_id):
    try:
        model = model_version_rollback(project=request.project, user=request.user)
        messages.success(request, f"Rolled back: version {model.version} is active again.")
    except RegistryError as exc:
        messages.error(request, str(exc))
    return redirect("model-list", project_id=request.project.pk)
