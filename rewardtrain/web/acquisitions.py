"""Active-learning pages: the rounds of a project (chart, start form) and a round with its picks.
Project admins and ML engineers; a round in flight refreshes itself through htmx; a round's picks
are shown PICKS_PER_PAGE at a time (a round may open thousands of tasks)."""
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.permissions import DATA_ROLES, MANAGE_ROLES, has_role, project_role_required

from ..active.selectors import (acquisition_labels_chart, acquisition_pool_size, acquisition_round_of_project,
                                acquisition_round_picks, acquisition_rounds_of_project)
from ..active.services import AcquisitionError, acquisition_round_create
from ..models import AcquisitionRound, ModelVersion
from . import charts
from .forms import AcquisitionForm

PICKS_PER_PAGE = 100


def _score_chart(round_: AcquisitionRound):
    """Pool vs picks, as shares of each, over the model's uncertainty 4σ(Δr)(1 − σ(Δr))."""
    hist = round_.pool_scores or {}
    if not hist.get("edges"):
        return None
    series = []
    for name, key in (("pool", "pool"), ("picks", "picks")):
        total = sum(hist[key]) or 1
        series.append({"name": f"{name} ({sum(hist[key])})", "counts": [c / total for c in hist[key]]})
    return charts.histogram_chart(series=series, edges=hist["edges"], y_label="share of tasks",
                                  title=f"Round {round_.pk}: how unsure the model is, pool vs picks",
                                  x_label="uncertainty of the closest pair (1 = coin flip)")


def _list(request, form, status=200):
    rounds = list(acquisition_rounds_of_project(project=request.project))
    latest = next((r for r in rounds if r.pool_scores), None)
    return render(request, "rewardtrain/active/rounds.html", {
        "project": request.project, "rounds": rounds, "form": form,
        "pool_size": acquisition_pool_size(project=request.project),
        "can_import": has_role(user=request.user, project=request.project, roles=MANAGE_ROLES),
        "active_model": ModelVersion.objects.filter(project=request.project, status=ModelVersion.Status.ACTIVE).first(),
        "live": any(r.status in AcquisitionRound.ACTIVE for r in rounds),
        "labels_chart": charts.line_chart(series=acquisition_labels_chart(rounds=rounds), title="Labels per round",
                                          x_label="round (oldest first)", y_label="tasks / judgements",
                                          empty="No finished round yet."),
        "score_chart": _score_chart(latest) if latest else None}, status=status)


@project_role_required(*DATA_ROLES)
def acquisition_list(request, project_id):
    return _list(request, AcquisitionForm())


@require_POST
@project_role_required(*DATA_ROLES)
def acquisition_new(request, project_id):
    form = AcquisitionForm(request.POST)
    if not form.is_valid():
        return _list(request, form, status=400)
    try:
        round_ = acquisition_round_create(project=request.project, user=request.user, **form.cleaned_data)
    except AcquisitionError as exc:
        form.add_error(None, str(exc))
        return _list(request, form, status=400)
    messages.success(request, f"Acquisition round {round_.pk} queued: the workers score the pool.")
    return redirect("acquisition-detail", project_id=request.project.pk, round_id=round_.pk)


@project_role_required(*DATA_ROLES)
def acquisition_detail(request, project_id, round_id):
    round_ = acquisition_round_of_project(project=request.project, round_id=round_id)
    finished = round_.status in AcquisitionRound.FINISHED
    context = {"project": request.project, "round": round_, "finished": finished,
               "picks": Paginator(acquisition_round_picks(round_=round_), PICKS_PER_PAGE).get_page(
                   request.GET.get("page")) if finished else None,
               "score_chart": _score_chart(round_)}
    template = "rewardtrain/active/_round_live.html" if request.htmx else "rewardtrain/active/round.html"
    return render(request, template, context)
