"""Pages for everyone (home) and for project admins (overview, imports). Thin: parse, call, render."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import selectors
from .permissions import DATA_ROLES, MANAGE_ROLES, Role, project_role_required, user_roles


@login_required
def home(request):
    return render(request, "annotation/home.html", {"projects": selectors.project_cards(user=request.user)})


@project_role_required(*Role.values)
def project_detail(request, project_id):
    project = request.project
    roles = user_roles(user=request.user, project=project)
    return render(request, "annotation/project_detail.html", {
        "project": project, "roles": roles,
        "can_manage": bool(roles & set(MANAGE_ROLES)), "can_see_data": bool(roles & set(DATA_ROLES)),
        "stats": selectors.project_stats(project=project),
    })


@project_role_required(*MANAGE_ROLES)
def import_upload(request, project_id):
    raise NotImplementedError
