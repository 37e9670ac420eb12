"""Pages for everyone (home) and for project admins (overview, imports). Thin: parse, call, render."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from annotation.permissions import DATA_ROLES, MANAGE_ROLES, Role, project_role_required, user_roles
from annotation.selectors.projects import project_cards, project_stats
from annotation.services.imports.common import ImportFailed
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


IMPORT_KINDS = {
    "tasks": ("Tasks to annotate", tasks_import),
    "pairs-trl": ("Judged pairs, TRL prompt/chosen/rejected", lambda **kw: pairs_import(fmt="trl", **kw)),
    "pairs-hh": ("Judged pairs, HH-RLHF transcripts", lambda **kw: pairs_import(fmt="hh", **kw)),
}


@project_role_required(*MANAGE_ROLES)
def project_import(request, project_id):
    errors, kind = [], request.POST.get("kind", "tasks")
    if request.method == "POST":
        upload = request.FILES.get("file")
        if kind not in IMPORT_KINDS:
            errors = [f"Unknown import kind {kind!r}."]
        elif upload is None:
            errors = ["Choose a .jsonl or .jsonl.gz file to upload."]
        else:
            try:
                result = IMPORT_KINDS[kind][1](project=request.project, fileobj=upload, filename=upload.name,
                                               user=request.user, batch_name=request.POST.get("batch_name") or None)
            except ImportFailed as exc:
                errors = exc.errors
            else:
                if result.batch is None:
                    messages.info(request, f"Nothing new in {upload.name}: all {result.lines} row(s) are already "
                                           f"in the project; no batch was created.")
                else:
                    messages.success(request, f"Imported {result.created} new row(s) from {upload.name}; "
                                              f"skipped {result.duplicates} duplicate(s). {result.pii_summary}")
                return redirect("project-detail", project_id=project_id)
    return render(request, "annotation/import.html", {
        "project": request.project, "errors": errors, "kind": kind,
        "kinds": [(key, label) for key, (label, _) in IMPORT_KINDS.items()],
    }, status=400 if errors else 200)


project_import.max_body_setting = "VERDICT_UPLOAD_MAX_BYTES"  # config.security.BodyLimitMiddleware
