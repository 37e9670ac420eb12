"""Adjudication pages for project admins: the review queue of disputed tasks (every judgement with
annotator, strength, criteria, rationale and time) and the verdict form's post (on the task page).
Thin: parse, call services.adjudication.adjudication_record, redirect."""
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation.permissions import MANAGE_ROLES, project_role_required
from annotation.selectors.manage import disputed_tasks, judgement_rows, task_with_judgements
from annotation.selectors.workspace import LETTERS
from annotation.services.adjudication import adjudication_record
from annotation.services.judgements import JudgementInvalid

from . import forms
from .manage import task_page


@project_role_required(*MANAGE_ROLES)
def disputed_list(request, project_id):
    project = request.project
    include = request.GET.get("all") == "1"
    tasks, disagreement = disputed_tasks(project=project, include_adjudicated=include)
    page = Paginator(tasks, 20).get_page(request.GET.get("page"))
    items = [{"task": t, "disagreement": disagreement.get(t.pk), "judgements": judgement_rows(task=t, project=project),
              "adjudication": getattr(t, "adjudication", None)} for t in page]
    return render(request, "annotation/manage/disputed.html", {
        "project": project, "page": page, "items": items, "include_adjudicated": include})


@require_POST
@project_role_required(*MANAGE_ROLES)
def task_adjudicate(request, project_id, task_id):
    project = request.project
    task = get_object_or_404(task_with_judgements(), pk=task_id, project=project)
    ids_by_letter = {LETTERS[i]: rid for i, rid in
                     enumerate(task.slots.order_by("position").values_list("response_id", flat=True))}
    try:
        ranking = forms.ranks_to_ranking(request.POST, "rank-", ids_by_letter, "ranking", "Verdict")
        adjudication_record(task=task, ranking=ranking, note=request.POST.get("note", ""), user=request.user)
    except JudgementInvalid as exc:
        return task_page(request, task=task, error=exc.message, posted=request.POST)
    messages.success(request, f"Verdict on task {task.pk} recorded.")
    return redirect("disputed", project.pk)
