"""The ML engineers' snapshot page: list, cut, verify and download. Thin: parse, call one service, render."""
from django.contrib import messages
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.permissions import DATA_ROLES, project_role_required

from . import exports
from .forms import SnapshotForm
from .models import DatasetSnapshot
from .snapshots import SnapshotError, filters_build, snapshot_create, snapshot_verify


def _page(request, form, status=200):
    snapshots = DatasetSnapshot.objects.filter(project=request.project).select_related("created_by")
    return render(request, "rewardtrain/snapshots.html", {
        "project": request.project, "snapshots": snapshots, "form": form, "formats": exports.FORMATS,
    }, status=status)


def _snapshot(request, snapshot_id) -> DatasetSnapshot:
    snapshot = DatasetSnapshot.objects.filter(project=request.project, pk=snapshot_id).first()
    if snapshot is None:
        raise Http404("No such snapshot in this project.")
    return snapshot


@project_role_required(*DATA_ROLES)
def snapshot_list(request, project_id):
    return _page(request, SnapshotForm(project=request.project))


@require_POST
@project_role_required(*DATA_ROLES)
def snapshot_new(request, project_id):
    form = SnapshotForm(request.POST, project=request.project)
    if not form.is_valid():
        return _page(request, form, status=400)
    d = form.cleaned_data
    try:
        filters = filters_build(
            project=request.project, criteria=d["criteria"] or None, sources=d["sources"], since=d["since"],
            until=d["until"], batch_ids=[b.pk for b in d["batches"]], min_agreement=d["min_agreement"],
            exclude_gold=d["exclude_gold"], exclude_annotators=[u.pk for u in d["exclude_annotators"]])
        snap = snapshot_create(project=request.project, filters=filters, aggregation=d["aggregation"],
                               seed=d["seed"], val_fraction=d["val_fraction"], user=request.user)
    except SnapshotError as exc:
        form.add_error(None, str(exc))
        return _page(request, form, status=400)
    messages.success(request, f"Snapshot v{snap.version}: {snap.train_rows} train and {snap.val_rows} "
                              f"validation rows, sha256 {snap.sha256[:12]}…")
    return redirect("snapshots", project_id=request.project.pk)


@require_POST
@project_role_required(*DATA_ROLES)
def snapshot_check(request, project_id, snapshot_id):
    report = snapshot_verify(snapshot=_snapshot(request, snapshot_id))
    if request.htmx:
        return render(request, "rewardtrain/_integrity.html", {"report": report})
    (messages.success if report.ok else messages.error)(request, report.message)
    return redirect("snapshots", project_id=request.project.pk)


@project_role_required(*DATA_ROLES)
def snapshot_download(request, project_id, snapshot_id, fmt):
    snapshot = _snapshot(request, snapshot_id)
    split = request.GET.get("split", "all")
    if fmt not in exports.FORMATS or split not in exports.SPLITS:
        raise Http404("Unknown export format or split.")
    response = StreamingHttpResponse(exports.export_lines(snapshot=snapshot, fmt=fmt, split=split),
                                     content_type=exports.CONTENT_TYPE)
    name = exports.export_filename(snapshot=snapshot, fmt=fmt, split=split)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
