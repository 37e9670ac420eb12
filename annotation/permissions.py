"""The one permission layer: per-project roles, reused by pages, the API and commands.

A user sees a project only through a membership; superusers see everything. Views ask
`project_for_user(...)` (404 for non-members, so project ids do not leak) and then
`require_role(...)` (403 when the member lacks the role).
"""
from collections.abc import Iterable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from rest_framework.permissions import BasePermission

from .models import Membership, Project

Role = Membership.Role
MANAGE_ROLES = (Role.ADMIN,)
DATA_ROLES = (Role.ADMIN, Role.ML)
ANNOTATE_ROLES = (Role.ANNOTATOR, Role.ADMIN)


def user_roles(*, user, project: Project) -> set[str]:
    if not user.is_authenticated:
        return set()
    if user.is_superuser:
        return set(Role.values)
    known = getattr(project, "_member_roles", None)  # set by project_for_user: no second query
    if known is not None and known[0] == user.pk:
        return set(known[1])
    return set(Membership.objects.filter(user=user, project=project).values_list("role", flat=True))


def has_role(*, user, project: Project, roles: Iterable[str]) -> bool:
    return bool(user_roles(user=user, project=project) & set(roles))


def visible_projects(*, user):
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user).distinct()


def project_for_user(*, user, project_id) -> Project:
    """The project if the user is a member (or superuser), else 404.

    One query reads the project together with the user's roles in it, which `user_roles` then
    reuses: every API call and page checks a role right after this lookup.
    """
    try:
        if user.is_superuser:
            return Project.objects.get(pk=project_id)
        memberships = list(Membership.objects.filter(user=user, project_id=project_id).select_related("project"))
    except (Project.DoesNotExist, ValueError, TypeError):
        raise Http404("No such project.")
    if not memberships:
        raise Http404("No such project.")
    project = memberships[0].project
    project._member_roles = (user.pk, frozenset(m.role for m in memberships))
    return project


def require_role(*, user, project: Project, roles: Iterable[str]) -> None:
    roles = tuple(roles)
    if not has_role(user=user, project=project, roles=roles):
        names = " or ".join(Role(r).label for r in roles)
        raise PermissionDenied(f"This needs the {names} role in project “{project.name}”.")


def project_role_required(*roles: str):
    """View decorator: loads `project_id` from the URL into `request.project`, checks the role."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, project_id, **kwargs):
            if not request.user.is_authenticated:
                if getattr(request, "htmx", False):
                    # A fragment request from a page whose session ended (logged out, expired): a
                    # redirect would swap the login page into the task; 401 lets the page keep
                    # the answer and ask the annotator to sign in again.
                    return HttpResponse("Your session has ended: sign in again.", status=401,
                                        content_type="text/plain; charset=utf-8")
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            project = project_for_user(user=request.user, project_id=project_id)
            require_role(user=request.user, project=project, roles=roles)
            request.project = project
            return view(request, *args, project_id=project_id, **kwargs)

        return wrapped

    return decorator


class ProjectFromUrl:
    """API views under /projects/{project_id}/: the project, looked up once per request (404 for non-members)."""

    def get_project(self) -> Project:
        if not hasattr(self, "_project"):
            self._project = project_for_user(user=self.request.user, project_id=self.kwargs["project_id"])
        return self._project


class HasProjectRole(BasePermission):
    """DRF permission: the view names `project_roles` and resolves the project via `get_project()`.

    Non-members get 404 (from `project_for_user`), members without the role get 403.
    """

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        project = view.get_project()
        require_role(user=request.user, project=project, roles=view.project_roles)
        return True
