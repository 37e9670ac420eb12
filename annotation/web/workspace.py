"""The annotator workspace (htmx): show the current lease, submit, skip, diff. Thin: parse, call one
service, render.

One full page; every action answers with the `#task` fragment (plus the progress bar out of band)
when htmx asks, and redirects back to the page for a plain form post. The fragment also carries
the annotator's *next* task, reserved (queue.task_prefetch) and rendered in a <template>: the page
shows it the moment an answer is submitted, while the submission travels (static/js/workspace.js).

The request protocol between this module and workspace.js, in one place
-----------------------------------------------------------------------
Skip and "check again" are ordinary htmx requests. A *submission* is not: workspace.js swaps in
the prefetched task before the answer is saved, so it posts with `fetch` and applies the answer
itself (htmx would swap the response over the task already on screen). So that the views treat
that post like any htmx request, the script:

* sets `HX-Request: true` by hand (django-htmx then sets `request.htmx`), also on the diff fetch;
* posts `shown=<lease id>`, the prefetched task it already shows; when that lease is the one now
  current, `_next` answers only `_next_only.html` (the progress bar and the task after it, in a
  <template id="ws-next">), otherwise the whole `_task.html` (progress + task + next template);
* reads the progress bar's `hx-swap-oob` element out of the response itself and strips the
  attribute before placing it (htmx is not there to process out-of-band swaps on a fetch);
* reads `X-Verdict-Notice` (URL-encoded: headers are Latin-1) and flashes it: the one message a
  submission can carry (a replayed answer, a skipped lease). It is not an `HX-Trigger` event for
  the same reason: htmx does not see this response.
Status codes: 200 with a fragment; 422 with the task re-rendered and its error (the script puts
the answered task back); anything else keeps the page as it is.

Revising (key Z): an ordinary htmx GET of `annotate-revise` swaps in the last judged task with its
answer filled in and no prefetched <template>, so its submission is not optimistic; its form posts
to `annotate-revise-submit`, which answers like a submission: the whole current task (the lease
that was on screen before Z) plus `X-Verdict-Notice`.
"""
from urllib.parse import quote

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from annotation.parsing import ascii_int
from annotation.permissions import ANNOTATE_ROLES, project_role_required
from annotation.rendering import markdown_to_safe_html
from annotation.selectors import workspace
from annotation.selectors.judgements import judgement_last
from annotation.services import judgements, queue

from . import forms

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
                       questions=forms.workspace_questions(project=project, criteria=criteria,
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
        answer = forms.answer_from_post(data=request.POST, project=request.project,
                                                 criteria=workspace.criteria_for(project=request.project),
                                                 display_order=assignment.display_order)
        _, created = judgements.judgement_submit(assignment=assignment, **answer)
        notice = None if created else "You had already answered this task (in another tab?); your first answer is kept."
    except judgements.JudgementInvalid as exc:
        context = _task_context(request, assignment=assignment, data=request.POST, error=exc.message)
        if request.htmx:
            return _render_task(request, context, status=422)
        context["instructions_html"] = markdown_to_safe_html(request.project.instructions)
        return render(request, "annotation/workspace/page.html", context, status=422)
    except judgements.AssignmentConflict as exc:
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
        judgements.assignment_skip(assignment=assignment, reason=reason)
    except judgements.JudgementInvalid as exc:
        context = _task_context(request, assignment=assignment, data=request.POST, error=exc.message)
        return _render_task(request, context, status=422) if request.htmx else redirect("annotate", project_id)
    except judgements.AssignmentConflict as exc:
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
@never_cache
@project_role_required(*ANNOTATE_ROLES)
def annotate_revise(request, project_id):
    """The annotator's last judgement, its task shown again with the answer filled in (key Z)."""
    judgement = judgement_last(project=request.project, user=request.user)
    if judgement is None or judgement.assignment is None:
        context = _task_context(request, assignment=queue.task_next(project=request.project, annotator=request.user),
                                error="Nothing to revise yet: you have not submitted a judgement in this project.")
        return _render_task(request, context) if request.htmx else redirect("annotate", project_id)
    criteria = workspace.criteria_for(project=request.project)
    return _render_revising(request, judgement=judgement,
                            data=forms.answer_as_post(judgement=judgement, project=request.project, criteria=criteria))


def _render_revising(request, *, judgement, data, error=None, status=200):
    context = _lease_context(request, assignment=judgement.assignment, data=data, error=error)
    context.update(revising=judgement, progress=workspace.annotator_progress(project=request.project, user=request.user))
    if request.htmx:
        return _render_task(request, context, status=status)
    context["instructions_html"] = markdown_to_safe_html(request.project.instructions)
    return render(request, "annotation/workspace/page.html", context, status=status)


@require_POST
@project_role_required(*ANNOTATE_ROLES)
def annotate_revise_submit(request, project_id, judgement_id):
    """Saves the revision (services.judgements.judgement_revise), then back to the current task."""
    judgement = judgement_last(project=request.project, user=request.user)
    if judgement is None or judgement.pk != judgement_id:
        notice = "Only your last judgement in this project can be revised."
    else:
        try:
            answer = forms.answer_from_post(data=request.POST, project=request.project,
                                            criteria=workspace.criteria_for(project=request.project),
                                            display_order=judgement.display_order)
            answer["duration_ms"] = None  # the time of the first answer stands
            judgements.judgement_revise(judgement=judgement, **answer)
            notice = "Your last judgement is revised."
        except judgements.JudgementInvalid as exc:
            return _render_revising(request, judgement=judgement, data=request.POST, error=exc.message, status=422)
        except judgements.AssignmentConflict as exc:
            notice = str(exc)
    response = _next(request)
    if request.htmx:
        response["X-Verdict-Notice"] = quote(notice)
    else:
        messages.info(request, notice)
    return response


@require_GET
@project_role_required(*ANNOTATE_ROLES)
def annotate_diff(request, project_id, assignment_id):
    assignment = _own_assignment(request, assignment_id)
    view = workspace.task_view(assignment=assignment)
    return render(request, "annotation/workspace/_diff.html", workspace.responses_diff(responses=view["responses"]))


