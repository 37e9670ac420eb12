"""Project admins' gold pages: the gold tasks and annotators' gold accuracy, the gold rate, and marking
one task gold with its expected answer. Thin: parse, call one service or selector, render."""
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from annotation.models import Task
from annotation.parsing import ascii_int
from annotation.permissions import MANAGE_ROLES, project_role_required
from annotation.rendering import markdown_to_safe_html
from annotation.selectors.gold import gold_accuracy, gold_task_responses, gold_tasks_list, task_by_ref
from annotation.services.gold import project_set_gold_rate, task_mark_gold, task_unmark_gold
from annotation.services.judgements import JudgementInvalid

from . import forms


@project_role_required(*MANAGE_ROLES)
def gold_tasks(request, project_id):
    """Project admins: gold tasks, annotators' gold accuracy, and a form to mark a task as gold."""
    project = request.project
    if request.method == "POST":
        try:
            project_set_gold_rate(project=project, percent=request.POST.get("gold_rate_percent", ""))
        except ValueError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Gold tasks are now served first to {project.gold_rate_percent}% of requests for work.")
        return redirect("gold-tasks", project.pk)
    task_ref = request.GET.get("task", "").strip()
    if task_ref:
        task = task_by_ref(project=project, ref=task_ref)
        if task:
            return redirect("gold-task", project.pk, task.pk)
        messages.error(request, f"No task {task_ref!r} in this project.")
    return render(request, "annotation/workspace/gold_list.html", {
        "project": project, "gold": gold_tasks_list(project=project), "accuracy": gold_accuracy(project=project)})


@project_role_required(*MANAGE_ROLES)
def gold_task(request, project_id, task_id):
    project = request.project
    task = get_object_or_404(Task.objects.select_related("prompt"), pk=task_id, project=project)
    responses = gold_task_responses(task=task)
    if request.method == "POST":
        if request.POST.get("action") == "unmark":
            task_unmark_gold(task=task)
            messages.success(request, f"Task {task.pk} is no longer gold.")
            return redirect("gold-tasks", project.pk)
        try:
            ranking = forms.ranks_to_ranking(request.POST, "rank-", {r["label"]: r["id"] for r in responses},
                                             "gold_ranking", "Expected answer")
            target = request.POST.get("target_judgements", "").strip()
            task_mark_gold(task=task, gold_ranking=ranking, target_judgements=ascii_int(target))
        except JudgementInvalid as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Task {task.pk} is gold now.")
            return redirect("gold-tasks", project.pk)
    return render(request, "annotation/workspace/gold_task.html", {
        "project": project, "task": task, "responses": responses, "ranks": range(1, len(responses) + 1),
        "prompt_html": markdown_to_safe_html(task.prompt.text)})
