"""The runs pages: list + Train form, and a run's live detail (htmx polls a fragment while it trains)."""
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.permissions import DATA_ROLES, Role, has_role, project_role_required

from ..models import TrainingRun
from . import charts
from .forms import TrainForm, TrainingPolicyForm
from ..training.selectors import run_curves, run_of_project, runs_of_project
from ..training.policy import (PolicyError, training_policy_new_judgements, training_policy_of,
                               training_policy_update)
from ..training.services import RunError, training_run_cancel, training_run_create


CURVES = {"loss": ("Loss by optimizer step", "pairwise loss", None),
          "accuracy": ("Accuracy by optimizer step", "accuracy (share of pairs right)", (0.0, 1.0))}


def _curve_charts(run: TrainingRun) -> list:
    """The run's curves as labelled SVG charts (re-rendered on every poll, so cheap)."""
    out = []
    for curve in run_curves(run=run):
        title, y_label, y_range = CURVES[curve["measure"]]
        values = [y for s in curve["series"] for _, y in s["points"]]
        out.append(charts.line_chart(series=curve["series"], title=title, x_label="optimizer step",
                                     y_label=y_label, y_range=y_range or (min(0.0, *values), max(values))))
    return out


def _took(run: TrainingRun) -> str:
    """How long a finished run took, in words a person reads at a glance ("42 s", "3 min 5 s")."""
    if not (run.started_at and run.finished_at):
        return ""
    seconds = max(0, round((run.finished_at - run.started_at).total_seconds()))
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min {seconds % 60} s"


def _can_train(request) -> bool:
    return has_role(user=request.user, project=request.project, roles=(Role.ML,))


def _policy_form(policy) -> TrainingPolicyForm:
    return TrainingPolicyForm(initial={key: getattr(policy, key) for key in TrainingPolicyForm.base_fields})


def _list(request, form, status=200, policy_form=None):
    policy = training_policy_of(project=request.project)
    runs = list(runs_of_project(project=request.project))
    return render(request, "rewardtrain/training/runs.html", {
        "project": request.project, "runs": runs, "form": form, "can_train": _can_train(request),
        "live": any(run.status not in TrainingRun.FINISHED for run in runs), "active_statuses": TrainingRun.ACTIVE,
        "policy": policy, "policy_form": policy_form or _policy_form(policy),
        "new_judgements": training_policy_new_judgements(policy=policy) if policy.retrain_every else None},
        status=status)


@project_role_required(*DATA_ROLES)
def run_list(request, project_id):
    return _list(request, TrainForm(project=request.project))


@require_POST
@project_role_required(Role.ML)
def run_new(request, project_id):
    form = TrainForm(request.POST, project=request.project)
    if not form.is_valid():
        return _list(request, form, status=400)
    try:
        run = training_run_create(project=request.project, snapshot_id=form.cleaned_data["snapshot"].pk,
                                  config=form.config(), user=request.user)
    except RunError as exc:
        form.add_error(None, str(exc))
        return _list(request, form, status=400)
    messages.success(request, f"Run {run.pk} queued: a training worker will pick it up.")
    return redirect("run-detail", project_id=request.project.pk, run_id=run.pk)


@project_role_required(*DATA_ROLES)
def run_detail(request, project_id, run_id):
    run = run_of_project(project=request.project, run_id=run_id)
    context = {"project": request.project, "run": run, "curves": _curve_charts(run),
               "finished": run.status in TrainingRun.FINISHED, "can_train": _can_train(request), "took": _took(run),
               "model": getattr(run, "model_version", None)}
    template = "rewardtrain/training/_run_live.html" if request.htmx else "rewardtrain/training/run.html"
    return render(request, template, context)


@require_POST
@project_role_required(Role.ML)
def run_cancel(request, project_id, run_id):
    run = run_of_project(project=request.project, run_id=run_id)
    if run.status in TrainingRun.FINISHED:
        messages.error(request, f"Run {run.pk} has already finished ({run.status}).")
    elif training_run_cancel(run=run).status == TrainingRun.Status.CANCELLED:
        messages.success(request, f"Run {run.pk} cancelled before a worker took it.")
    else:
        messages.success(request, f"Run {run.pk}: cancel requested; it stops within seconds.")
    return redirect("run-detail", project_id=request.project.pk, run_id=run.pk)


@require_POST
@project_role_required(Role.ML)
def run_policy(request, project_id):
    form = TrainingPolicyForm(request.POST)
    if not form.is_valid():
        return _list(request, TrainForm(project=request.project), status=400, policy_form=form)
    try:
        training_policy_update(project=request.project, user=request.user, **form.cleaned_data)
    except PolicyError as exc:
        form.add_error(None, str(exc))
        return _list(request, TrainForm(project=request.project), status=400, policy_form=form)
    messages.success(request, "Training policy saved.")
    return redirect("run-list", project_id=request.project.pk)
