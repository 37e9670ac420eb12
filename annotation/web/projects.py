"""Pages for everyone (home) and for project admins (overview, imports). Thin: parse, call, render."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from annotation.models import ImportJob
from annotation.permissions import DATA_ROLES, MANAGE_ROLES, Role, project_role_required, user_roles
from annotation.selectors.projects import project_cards, project_stats
from annotation.services.imports.common import ImportFailed
from annotation.services.imports.jobs import (FINISHED, import_inline, import_job_create, import_job_get,
                                             import_jobs_recent)
from annotation.services.imports.pairs import pairs_import
from annotation.services.imports.tasks import tasks_import


@login_required
def home(request):
    return render(request, "annotation/home.html", {"projects": project_cards(user=request.user)})


@project_role_required(*Role.values)
def project_detail(request, project_id):
    project = request.project
    roles = user_roles(user=request.user, project=project)
    return render(request, "annotation/project_detail.html", {
        "project": project, "roles": roles,
        "can_manage": bool(roles & set(MANAGE_ROLES)), "can_see_data": bool(roles & set(DATA_ROLES)),
        "stats": project_stats(project=project),
    })


IMPORT_KINDS = {  # the form's choice -> (label, ImportJob kind, pair format)
    "tasks": ("Tasks to annotate", "tasks", ""),
    "pairs-trl": ("Judged pairs, TRL prompt/chosen/rejected", "pairs", "trl"),
    "pairs-hh": ("Judged pairs, HH-RLHF transcripts", "pairs", "hh"),
}


def _import_now(kind: str, **kwargs):
    _, what, fmt = IMPORT_KINDS[kind]
    return tasks_import(**kwargs) if what == "tasks" else pairs_import(fmt=fmt, **kwargs)


@project_role_required(*MANAGE_ROLES)
def project_import(request, project_id):
    """Imports a small file at once; a file over VERDICT_IMPORT_INLINE_MAX_BYTES becomes an import job
    (a worker imports it) and the browser goes to the job's page, which shows its progress."""
    errors, kind, pool = [], request.POST.get("kind", "tasks"), request.POST.get("pool") == "on"
    if request.method == "POST":
        upload = request.FILES.get("file")
        batch_name = request.POST.get("batch_name") or None
        if kind not in IMPORT_KINDS:
            errors = [f"Unknown import kind {kind!r}."]
        elif upload is None:
            errors = ["Choose a .jsonl or .jsonl.gz file to upload."]
        elif pool and kind != "tasks":
            errors = ["Only tasks to annotate can go into the pool; judged pairs are imported as they are."]
        elif not import_inline(size=upload.size):
            try:
                _, what, fmt = IMPORT_KINDS[kind]
                job = import_job_create(project=request.project, kind=what, pair_format=fmt, upload=upload,
                                        batch_name=batch_name, user=request.user, pool=pool)
            except ImportFailed as exc:
                errors = exc.errors
            else:
                return redirect("import-job", project_id=project_id, job_id=job.pk)
        else:
            extra = {"pool": True} if pool else {}
            try:
                result = _import_now(kind, project=request.project, fileobj=upload, filename=upload.name,
                                     user=request.user, batch_name=batch_name, **extra)
            except ImportFailed as exc:
                errors = exc.errors
            else:
                if result.batch is None:
                    messages.info(request, f"Nothing new in {upload.name}: all {result.lines} row(s) are already "
                                           f"in the project; no batch was created.")
                else:
                    where = " into the active-learning pool" if pool else ""
                    messages.success(request, f"Imported {result.created} new row(s) from {upload.name}{where}; "
                                              f"skipped {result.duplicates} duplicate(s). {result.pii_summary}")
                return redirect("project-detail", project_id=project_id)
    return render(request, "annotation/import.html", {
        "project": request.project, "errors": errors, "kind": kind, "pool": pool,
        "kinds": [(key, label) for key, (label, *_) in IMPORT_KINDS.items()],
        "jobs": import_jobs_recent(project=request.project), "inline_max": settings.VERDICT_IMPORT_INLINE_MAX_BYTES,
    }, status=400 if errors else 200)


@project_role_required(*MANAGE_ROLES)
def import_job(request, project_id, job_id):
    """A large import's progress (the page polls itself while it runs), then its result or its errors."""
    try:
        job = import_job_get(project=request.project, job_id=job_id)
    except ImportJob.DoesNotExist:
        raise Http404("No such import job in this project.")
    return render(request, "annotation/import_job.html", {
        "project": request.project, "job": job, "finished": job.status in FINISHED})


project_import.max_body_setting = "VERDICT_UPLOAD_MAX_BYTES"  # config.security.BodyLimitMiddleware
