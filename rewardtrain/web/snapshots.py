"""The ML engineers' snapshot page: list, cut, verify and download. Thin: parse, call one service, render.

URL name, view and service agree: snapshot-verify -> snapshot_verify -> services.snapshot_verify."""
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.services.audit import audit_record
from annotation.permissions import DATA_ROLES, project_role_required
from rewardtrain.models import DatasetSnapshot
from rewardtrain.snapshots import exports, services
from rewardtrain.snapshots import jobs as jobs_module
from annotation.selectors.pairs import OVERALL_NAME
from rewardtrain.snapshots.filters import SnapshotError, criterion_labels, filters_summary

from .forms import SnapshotForm


def _page(request, form, status=200):
    labels = criterion_labels(project=request.project)
    snapshots = list(services.snapshot_list(project=request.project))
    for snap in snapshots:  # what the row shows: readable filters, and the criteria to download one by one
        snap.filter_summary = filters_summary(snap.filters, labels=labels)
        snap.criteria_choices = [(c, "Overall" if c == OVERALL_NAME else labels.get(c, c))
                                 for c in exports.snapshot_criteria(snap)]
    jobs = jobs_module.snapshot_jobs_recent(project=request.project)
    return render(request, "rewardtrain/snapshots.html", {
        "project": request.project, "snapshots": snapshots, "form": form, "jobs": jobs,
        "jobs_live": any(job.status not in jobs_module.FINISHED for job in jobs),
        "formats": exports.FORMATS, "raw_formats": exports.RAW_FORMATS, "splits": exports.SPLITS,
    }, status=status)


def _snapshot(request, snapshot_id) -> DatasetSnapshot:
    try:
        return services.snapshot_get(project=request.project, snapshot_id=snapshot_id)
    except DatasetSnapshot.DoesNotExist:
        raise Http404("No such snapshot in this project.")


@project_role_required(*DATA_ROLES)
def snapshot_list(request, project_id):
    return _page(request, SnapshotForm(project=request.project))


@require_POST
@project_role_required(*DATA_ROLES)
def snapshot_new(request, project_id):
    """Queues the cut of the next version (a snapshot job); the page follows its progress."""
    form = SnapshotForm(request.POST, project=request.project)
    if not form.is_valid():
        return _page(request, form, status=400)
    d = form.cleaned_data
    params = {"criteria": d["criteria"] or None, "sources": d["sources"], "since": d["since"], "until": d["until"],
              "batches": [b.pk for b in d["batches"]], "min_agreement": d["min_agreement"],
              "exclude_gold": d["exclude_gold"], "exclude_annotators": [u.pk for u in d["exclude_annotators"]],
              "aggregation": d["aggregation"], "seed": d["seed"], "val_fraction": d["val_fraction"]}
    try:
        job = jobs_module.snapshot_job_create(project=request.project, params=params, user=request.user)
    except SnapshotError as exc:
        form.add_error(None, str(exc))
        return _page(request, form, status=400)
    messages.info(request, f"Cutting the snapshot (job {job.pk}); it appears below when it is written.")
    return redirect("snapshots", project_id=request.project.pk)


@require_POST
@project_role_required(*DATA_ROLES)
def snapshot_verify(request, project_id, snapshot_id):
    report = services.snapshot_verify(snapshot=_snapshot(request, snapshot_id))
    if request.htmx:
        return render(request, "rewardtrain/_integrity.html", {"report": report})
    (messages.success if report.ok else messages.error)(request, report.message)
    return redirect("snapshots", project_id=request.project.pk)


@project_role_required(*DATA_ROLES)
def snapshot_download(request, project_id, snapshot_id, fmt=None):
    """One export (format in the path, or `format=` from the page's download form), or the raw artifact."""
    snapshot = _snapshot(request, snapshot_id)
    fmt = fmt or request.GET.get("format", "")
    split, criterion = request.GET.get("split", "all"), request.GET.get("criterion") or None
    if fmt not in (*exports.FORMATS, *exports.RAW_FORMATS) or split not in exports.SPLITS:
        raise Http404("Unknown export format or split.")
    try:
        if fmt in exports.RAW_FORMATS:
            response = exports.artifact_response(snapshot=snapshot, raw=fmt, split=split, criterion=criterion)
        else:
            response = exports.export_response(snapshot=snapshot, fmt=fmt, split=split, criterion=criterion)
        audit_record(action="snapshot.downloaded", user=request.user, project=request.project, target=snapshot,
                     detail={"format": fmt, "split": split, "criterion": criterion, "via": "page"})
        return response
    except exports.ExportError as exc:
        messages.error(request, str(exc))
        return redirect("snapshots", project_id=request.project.pk)
