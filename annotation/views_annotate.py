"""The annotator workspace (htmx) and the project admins' gold page. Thin: parse, call, render.

One full page; every action answers with the `#task` fragment (plus the progress bar out of band)
when htmx asks, and redirects back to the page for a plain form post. The fragment also carries
the annotator's *next* task, reserved and rendered in a <template>: the page shows it the moment
an answer is submitted, while the submission travels (static/js/workspace.js).
"""
from urllib.parse import quote

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import forms_annotate, judging, queue, services, workspace
from .models import Task
from .parsing import ascii_int
from .permissions import ANNOTATE_ROLES, MANAGE_ROLES, project_role_required
from .rendering import markdown_to_safe_html

SKIP_REASONS = ["Outside my expertise", "Prompt or responses are broken", "Unsafe or offensive content",
                "Other"]


def _lease_context(request, *, assignment, data=None, error=None) -> dict:
    """What _task.html needs to show one lease."""
    project = request.project
    criteria = workspace.criteria_for(project=project)
    context = {"project": project, "assignment": assignment, "error": error, "skip_reasons": SKIP_REASONS,
               "criteria": criteria, "posted": data or {}}
    if assignment is not None:
        view = workspace.task_view(assignment=assignment, render=True)
        context.update(task=view, pairwise=project.mode == project.Mode.PAIRWISE and len(view["responses"]) == 2,
                       questions=forms_annotate.workspace_questions(project=project, criteria=criteria,
                                                                    responses=view["responses"], data=data))
    return context


def _next_html(request) -> str:
    """The annotator's next task, reserved (queue.task_prefetch) and rendered, for the page to hold
    until the current answer is submitted; "" when nothing is left to reserve."""
    upcoming = queue.task_prefetch(project=request.project, annotator=request.user)
    if upcoming is None:
        return ""
    return render_to_string("annotation/workspace/_task.html",
                            _lease_context(request, assignment=upcoming), request=request)


def _task_context(request, *, assignment, data=None, error=None) -> dict:
    context = _lease_context(request, assignment=assignment, data=data, error=error)
    context["progress"] = workspace.annotator_progress(project=request.project, user=request.user)
    if assignment is not None:
        context["next_html"] = _next_html(request)
    return context


def _render_task(request, context, status=200):
    return render(request, "annotation/workspace/_task.html", {**context, "oob": True}, status=status)


def _own_assignment(request, assignment_id):
    assignment = workspace.assignment_for_annotator(user=request.user, assignment_id=assignment_id)
    if assignment.project_id != request.project.pk:
        raise Http404("No such assignment.")
    return assignment


@require_GET
@never_cache  # Back/Forward must ask again: a cached page would show a task already answered
@project_role_required(*ANNOTATE_ROLES)
def annotate(request, project_id):
    assignment = queue.task_next(project=request.project, annotator=request.user)
    context = _task_context(request, assignment=assignment)
    if request.htmx:
        return _render_task(request, context)
    context["instructions_html"] = markdown_to_safe_html(request.project.instructions)
    return render(request, "annotation/workspace/page.html", context)


@require_POST
@project_role_required(*ANNOTATE_ROLES)
def annotate_submit(request, project_id, assignment_id):
    assignment = _own_assignment(request, assignment_id)
    try:
        answer = forms_annotate.answer_from_post(data=request.POST, project=request.project,
                                                 criteria=workspace.criteria_for(project=request.project),
                                                 display_order=assignment.display_order)
        _, created = judging.judgement_submit(assignment=assignment, **answer)
        notice = None if created else "You had already answered this task (in another tab?); your first answer is kept."
    except judging.JudgementInvalid as exc:
        context = _task_context(request, assignment=assignment, data=request.POST, error=exc.message)
        if request.htmx:
            return _render_task(request, context, status=422)
        context["instructions_html"] = markdown_to_safe_html(request.project.instructions)
        return render(request, "annotation/workspace/page.html", context, status=422)
    except judging.AssignmentConflict as exc:
        notice = str(exc)
        messages.warning(request, notice)
    response = _next(request)
    if notice and request.htmx:  # the page flashes it (URL-encoded: headers are Latin-1)
        response["X-Verdict-Notice"] = quote(notice)
        list(messages.get_messages(request))  # shown once, here, not again on the next full page
    return response


@require_POST
@project_role_required(*ANNOTATE_ROLES)
def annotate_skip(request, project_id, assignment_id):
    assignment = _own_assignment(request, assignment_id)
    reason = request.POST.get("reason", "")
    if reason == "Other":
        reason = f"Other: {request.POST.get('other', '').strip()}" if request.POST.get("other", "").strip() else ""
    try:
        judging.assignment_skip(assignment=assignment, reason=reason)
    except judging.JudgementInvalid as exc:
        context = _task_context(request, assignment=assignment, data=request.POST, error=exc.message)
        return _render_task(request, context, status=422) if request.htmx else redirect("annotate", project_id)
    except judging.AssignmentConflict as exc:
        messages.warning(request, str(exc))
    return _next(request)


def _next(request):
    """The next task after a submission or skip. When the page already shows the prefetched task
    (it posts its id as `shown`) and that is the lease now current, only the task after it and
    the progress go back; otherwise the whole task."""
    if not request.htmx:
        return redirect("annotate", request.project.pk)
    shown = ascii_int(request.POST.get("shown"))
    assignment = queue.task_next(project=request.project, annotator=request.user, shown=shown)
    if assignment is not None and shown == assignment.pk:
        return render(request, "annotation/workspace/_next_only.html", {
            "assignment": assignment, "next_html": _next_html(request),
            "progress": workspace.annotator_progress(project=request.project, user=request.user), "oob": True})
    return _render_task(request, _task_context(request, assignment=assignment))


@require_GET
@project_role_required(*ANNOTATE_ROLES)
def annotate_diff(request, project_id, assignment_id):
    assignment = _own_assignment(request, assignment_id)
    view = workspace.task_view(assignment=assignment)
    return render(request, "annotation/workspace/_diff.html", workspace.responses_diff(responses=view["responses"]))


@project_role_required(*MANAGE_ROLES)
def gold_tasks(request, project_id):
    """Project admins: gold tasks, annotators' gold accuracy, and a form to mark a task as gold."""
    project = request.project
    if request.method == "POST":
        try:
            services.project_set_gold_rate(project=project, percent=request.POST.get("gold_rate_percent", ""))
        except ValueError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Gold tasks are now served first to {project.gold_rate * 100:g}% of requests for work.")
        return redirect("gold-tasks", project.pk)
    task_ref = request.GET.get("task", "").strip()
    if task_ref:
        task = Task.objects.filter(project=project, pk=ascii_int(task_ref)).first() \
            or Task.objects.filter(project=project, external_id=task_ref).first()
        if task:
            return redirect("gold-task", project.pk, task.pk)
        messages.error(request, f"No task {task_ref!r} in this project.")
    gold = Task.objects.filter(project=project, is_gold=True).order_by("-id").only(
        "id", "external_id", "status", "completed_judgements", "target_judgements")[:200]
    return render(request, "annotation/workspace/gold_list.html", {
        "project": project, "gold": gold, "accuracy": workspace.gold_accuracy(project=project)})


@project_role_required(*MANAGE_ROLES)
def gold_task(request, project_id, task_id):
    project = request.project
    task = get_object_or_404(Task.objects.select_related("prompt"), pk=task_id, project=project)
    responses = [{"id": slot.response_id, "label": workspace.LETTERS[i], "text": slot.response.text,
                  "html": markdown_to_safe_html(slot.response.text)}
                 for i, slot in enumerate(task.slots.select_related("response").order_by("position"))]
    if request.method == "POST":
        if request.POST.get("action") == "unmark":
            judging.task_unmark_gold(task=task)
            messages.success(request, f"Task {task.pk} is no longer gold.")
            return redirect("gold-tasks", project.pk)
        try:
            ranking = forms_annotate.ranks_to_ranking(request.POST, "rank-", {r["label"]: r["id"] for r in responses},
                                                    "gold_ranking", "Expected answer")
            target = request.POST.get("target_judgements", "").strip()
            judging.task_mark_gold(task=task, gold_ranking=ranking,
                                   target_judgements=ascii_int(target))
        except judging.JudgementInvalid as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Task {task.pk} is gold now.")
            return redirect("gold-tasks", project.pk)
    current = {}
    for rank, group in enumerate(task.gold_ranking or [], start=1):
        for response_id in group:
            current[response_id] = rank
    for response in responses:
        response["rank"] = current.get(response["id"], "")
    return render(request, "annotation/workspace/gold_task.html", {
        "project": project, "task": task, "responses": responses, "ranks": range(1, len(responses) + 1),
        "prompt_html": markdown_to_safe_html(task.prompt.text)})
