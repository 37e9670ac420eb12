"""The quality dashboard of a project (annotation.quality's numbers, drawn as server-side SVG charts):
judgements per day, agreement over time, the answers given, position bias, per-annotator throughput.
It lives here because the charts do (`annotation` never imports `rewardtrain`)."""
from django.shortcuts import render

from annotation.permissions import DATA_ROLES, project_role_required
from annotation.quality.annotators import annotator_stats_list, position_bias_project
from annotation.quality.dashboard import dashboard_data
from annotation.quality.units import COMPUTING, numbers_as_of

from . import charts

LABEL_NAMES = {"A": "A won", "B": "B won", "tie": "tie", "both_bad": "both bad"}


def _days(rows, first):
    return [((day - first).days, value) for day, value, *_ in rows]


@project_role_required(*DATA_ROLES)
def quality_dashboard(request, project_id):
    project = request.project
    data = dashboard_data(project=project, wait=False)
    annotators = annotator_stats_list(project=project, wait=False)
    if data is COMPUTING or annotators is COMPUTING:
        return render(request, "rewardtrain/quality_dashboard.html", {"project": project, "computing": True})
    bias = position_bias_project(rows=annotators)
    first = data["per_day"][0][0] if data["per_day"] else None
    since = f"days since {first:%Y-%m-%d}" if first else "day"
    plots = [
        charts.line_chart(series=[{"name": "judgements", "points": _days(data["per_day"], first)}] if first else [],
                          title="Judgements per day", x_label=since, y_label="judgements"),
        charts.line_chart(series=[{"name": "raw agreement", "points": _days(data["agreement_by_day"], first)}]
                          if first else [], title="Agreement over time (by the day a task got its last answer)",
                          x_label=since, y_label="share agreeing", y_range=(0, 1),
                          empty="No task has two answers yet."),
        charts.bar_chart(bars=[(LABEL_NAMES[k], n) for k, n in data["labels"]], title="Answers given",
                         y_label="answers (per response pair)", empty="No answers yet."),
        charts.bar_chart(bars=[(r["username"], r["position_bias"]) for r in annotators if r["position_bias"] is not None],
                         title="Position bias: share choosing the first-shown response", y_label="share",
                         reference=0.5, value_format="{:.0%}", empty="No decisive answers yet."),
        charts.bar_chart(bars=[(name, round(rate, 1)) for name, rate in data["throughput"][:30]],
                         title="Throughput: judgements per day worked", y_label="judgements / day",
                         empty="No judgements yet."),
    ]
    return render(request, "rewardtrain/quality_dashboard.html", {
        "project": project, "plots": plots, "bias": bias,
        "flagged": [r for r in annotators if r["flags"]], "as_of": numbers_as_of(project=project, name="dashboard")})
