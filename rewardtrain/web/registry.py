"""The model pages: list (promote, roll back, compare), detail with the report's plots."""
from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.permissions import DATA_ROLES, Role, has_role, project_role_required

from ..registry.selectors import model_of_project, model_plot_name, models_compared, models_of_project
from ..registry.services import RegistryError, model_version_promote, model_version_rollback


def _can_change(request) -> bool:
    return has_role(user=request.user, project=request.project, roles=(Role.ML,))


@project_role_required(*DATA_ROLES)
def model_list(request, project_id):
    return render(request, "rewardtrain/registry/models.html", {
        "project": request.project, "models": models_of_project(project=request.project),
        "can_change": _can_change(request)})


@project_role_required(*DATA_ROLES)
def model_detail(request, project_id, model_id):
    model = model_of_project(project=request.project, model_id=model_id)
    return render(request, "rewardtrain/registry/model.html", {
        "project": request.project, "model": model, "report": model.validation_report,
        "can_change": _can_change(request)})


@project_role_required(*DATA_ROLES)
def model_plot(request, project_id, model_id, plot):
    name = model_plot_name(model=model_of_project(project=request.project, model_id=model_id), plot=plot)
    return FileResponse(default_storage.open(name, "rb"), content_type="image/png")


@project_role_required(*DATA_ROLES)
def model_compare(request, project_id):
    ids = request.GET.get("a"), request.GET.get("b")
    if not all(ids):
        raise Http404("Choose two model versions to compare.")
    a, b = (model_of_project(project=request.project, model_id=i) for i in ids)
    return render(request, "rewardtrain/registry/compare.html", {
        "project": request.project, "a": a, "b": b, **models_compared(a=a, b=b)})


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
