"""The project admin's workspace: create and edit a project (with a Markdown preview), the rubric,
members and roles, batches (pause / resume / retire, progress) and the task browser. Project
admins only (superusers too, as everywhere); creating a project needs the `annotation.add_project`
permission. Thin: parse, call one service or selector, render."""
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from annotation.models import Batch, Membership, Task
from annotation.parsing import ascii_int
from annotation.permissions import MANAGE_ROLES, project_role_required
from annotation.rendering import markdown_to_safe_html
from annotation.selectors.gold import gold_task_responses
from annotation.selectors.manage import (batches_progress, judgement_rows, member_roles, members_list,
                                         task_with_judgements, tasks_browse)
from annotation.selectors.projects import rubrics_list
from annotation.services import batches as batch_services
from annotation.services import projects as project_services

from .manage_forms import MemberAddForm, ProjectSettingsForm, criteria_from_post

User = get_user_model()


def _settings_page(request, *, form, project=None, status=200):
    preview = None
    if form.is_bound and "preview" in request.POST:
        preview = markdown_to_safe_html(request.POST.get("instructions", ""))
    return render(request, "annotation/manage/project_form.html",
                  {"form": form, "project": project, "preview": preview}, status=status)


@login_required
def project_create(request):
    if not request.user.has_perm("annotation.add_project"):
        raise PermissionDenied("Creating projects needs the “Can add project” permission (ask a site admin).")
    form = ProjectSettingsForm(request.POST or None, initial=ProjectSettingsForm.initial_for(None))
    if request.method == "POST" and "preview" not in request.POST and form.is_valid():
        changes = form.changes()
        try:
            project = project_services.project_create(admin=request.user, **changes)
        except project_services.SettingsInvalid as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"Created “{project.name}”; you are its project admin.")
            return redirect("project-detail", project.pk)
    return _settings_page(request, form=form, status=400 if form.errors else 200)


@project_role_required(*MANAGE_ROLES)
def project_edit(request, project_id):
    project = request.project
    form = ProjectSettingsForm(request.POST or None, initial=ProjectSettingsForm.initial_for(project))
    if request.method == "POST" and "preview" not in request.POST and form.is_valid():
        try:
            project_services.project_update(project=project, changes=form.changes())
        except project_services.SettingsInvalid as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("project-edit", project.pk)
    return _settings_page(request, form=form, project=project, status=400 if form.errors else 200)


@login_required
@require_POST
def markdown_preview(request):
    """The htmx preview of Markdown being typed: the same safe renderer annotators' pages use. For
    those who write instructions: project creators and project admins."""
    if not (request.user.has_perm("annotation.add_project")
            or Membership.objects.filter(user=request.user, role=Membership.Role.ADMIN).exists()):
        raise PermissionDenied("Previewing instructions needs the Project admin role in some project.")
    html = markdown_to_safe_html(request.POST.get("instructions", "")[:100_000])
    return HttpResponse(html or '<p class="muted">Nothing to preview.</p>')


@project_role_required(*MANAGE_ROLES)
def rubric_edit(request, project_id):
    project = request.project
    current = project.rubric
    error = None
    if request.method == "POST":
        criteria = criteria_from_post(request.POST)
        name = request.POST.get("name", "").strip() or "Rubric"
        try:
            rubric, new = project_services.rubric_update(project=project, name=name[:200], criteria=criteria)
        except ValueError as exc:
            error = str(exc)
            messages.error(request, error)
        else:
            messages.success(request, f"Saved as a new version v{rubric.version} (the old one is in use)." if new
                             else f"Saved v{rubric.version} (no judgement uses it yet, so it was edited in place).")
            return redirect("rubric-edit", project.pk)
    if error:  # the admin's rows come back as typed, to fix, not the saved version
        rows, name = [dict(c) for c in criteria], name[:200]
    else:
        rows = [{"key": c.key, "label": c.label, "description": c.description} for c in
                (current.criteria.all() if current else [])]
        name = current.name if current else "Rubric"
    rows += [{"key": "", "label": "", "description": ""}] * 3
    return render(request, "annotation/manage/rubric.html", {
        "project": project, "current": current, "rows": rows, "name": name,
        "versions": rubrics_list(project=project)}, status=400 if error else 200)


def _member(project, user_id) -> User:
    return get_object_or_404(User.objects.filter(memberships__project=project).distinct(), pk=user_id)


@never_cache
@project_role_required(*MANAGE_ROLES)
def members(request, project_id):
    """Members and roles; adding one may create the user, whose password is shown on this response only."""
    project = request.project
    form = MemberAddForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        had = member_roles(project=project, username=d["username"])
        try:
            _, password = project_services.member_add(project=project, username=d["username"], role=d["role"],
                                                      create_user=d["create_user"], actor=request.user)
        except project_services.UnknownUser as exc:
            form.add_error("username", f"No user named “{exc.username}”: tick “Create this user” below to create "
                                       "the account, or check the spelling.")
        except ValueError as exc:
            form.add_error("username", str(exc))
        else:
            if password:
                created = {"username": d["username"], "password": password}
            messages.success(request, _member_added_message(d["username"], d["role"], had))
            form = MemberAddForm()
    return render(request, "annotation/manage/members.html", {
        "project": project, "members": members_list(project=project), "form": form, "created": created,
        "roles": Membership.Role.choices}, status=400 if form.errors else 200)


def _member_added_message(username: str, role: str, had: list[str]) -> str:
    """Says what happened to an existing member's roles: a role is added beside theirs, never swapped."""
    label = Membership.Role(role).label
    if not had:
        return f"{username} is now {label}."
    if role in had:
        return f"{username} already is {label}; nothing changed."
    now = " and ".join(str(Membership.Role(r).label) for r in sorted({*had, role}))
    before = " and ".join(str(Membership.Role(r).label) for r in had)
    return (f"{label} added: {username} was already {before} and now has both roles ({now}). To replace their "
            "role instead, use “Change role to” in the table.")


@require_POST
@project_role_required(*MANAGE_ROLES)
def member_set_role(request, project_id, user_id):
    user = _member(request.project, user_id)
    try:
        project_services.membership_set_role(project=request.project, user=user, role=request.POST.get("role", ""),
                                             actor=request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{user.username} is now {Membership.Role(request.POST['role']).label} only.")
    return redirect("members", request.project.pk)


@require_POST
@project_role_required(*MANAGE_ROLES)
def member_remove(request, project_id, user_id):
    user = _member(request.project, user_id)
    role = request.POST.get("role") or None
    try:
        project_services.membership_remove(project=request.project, user=user, role=role, actor=request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Removed {user.username}" + (f"'s {role} role." if role else " from the project."))
    return redirect("members", request.project.pk)


@project_role_required(*MANAGE_ROLES)
def batches(request, project_id):
    return render(request, "annotation/manage/batches.html", {
        "project": request.project, "batches": batches_progress(project=request.project)})


def _batch_action(service, done: str):
    @require_POST
    @project_role_required(*MANAGE_ROLES)
    def view(request, project_id, batch_id):
        batch = get_object_or_404(Batch, pk=batch_id, project=request.project)
        result = service(batch=batch)
        messages.success(request, done.format(name=batch.name, n=result))
        return redirect("batches", request.project.pk)
    return view


batch_pause = _batch_action(batch_services.batch_pause, "Paused “{name}”: its tasks are not served until resumed.")
batch_resume = _batch_action(batch_services.batch_resume, "Resumed “{name}”: its open tasks are served again.")
batch_retire = _batch_action(batch_services.batch_retire, "Retired “{name}”: {n} unfinished task(s) leave the queue.")

YES_NO = {"yes": True, "no": False}


@project_role_required(*MANAGE_ROLES)
def task_list(request, project_id):
    """The task browser: filters status, batch, gold and disputed (GET parameters), 50 a page."""
    project = request.project
    status = request.GET.get("status") or None
    status = status if status in Task.Status.values else None
    batch_id = ascii_int(request.GET.get("batch", ""))
    filters = {"status": status, "batch_id": batch_id, "is_gold": YES_NO.get(request.GET.get("gold", "")),
               "disputed": YES_NO.get(request.GET.get("disputed", ""))}
    page = Paginator(tasks_browse(project=project, **filters), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "annotation/manage/tasks.html", {
        "project": project, "page": page, "filters": filters, "query": query.urlencode(),
        "statuses": Task.Status.choices, "batches": Batch.objects.filter(project=project).order_by("-id")})


@project_role_required(*MANAGE_ROLES)
def task_detail(request, project_id, task_id):
    """One task: prompt, responses, every judgement, and the adjudication form."""
    task = get_object_or_404(task_with_judgements(), pk=task_id, project=request.project)
    return task_page(request, task=task)


def task_page(request, *, task, error: str | None = None, posted=None):
    """The task page; after a refused verdict, with the message and what was posted kept."""
    project = request.project
    responses = gold_task_responses(task=task)
    adjudication = getattr(task, "adjudication", None)
    rank_of = {rid: rank for rank, group in enumerate(adjudication.ranking, 1) for rid in group} if adjudication else {}
    for r in responses:
        r["rank"] = ascii_int(posted.get(f"rank-{r['label']}", "")) if posted is not None else rank_of.get(r["id"], "")
    note = posted.get("note", "") if posted is not None else (adjudication.note if adjudication else "")
    return render(request, "annotation/manage/task.html", {
        "project": project, "task": task, "responses": responses, "ranks": range(1, len(responses) + 1),
        "prompt_html": markdown_to_safe_html(task.prompt.text), "judgements": judgement_rows(task=task, project=project),
        "adjudication": adjudication, "note": note, "error": error}, status=400 if error else 200)
