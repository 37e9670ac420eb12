"""The Monitoring page of a project: daily plots of served rewards (mean ± 1 std, count, reward–length
correlation) of the active model and its predecessors, the alert rules with their thresholds, the alert
list (acknowledge, resolve) and the canary set upload. Project admins and ML engineers; ML engineers
replace the canary set."""
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from annotation.permissions import DATA_ROLES, Role, has_role, project_role_required

from ..models import Alert, Canary
from ..monitoring.alerts import AlertError, alert_acknowledge, alert_resolve, rule_descriptions
from ..monitoring.canaries import canaries_import
from ..monitoring.selectors import alerts_of, day_number, score_series_of
from ..scoring.files import FileProblems
from . import charts
from .forms import CanaryImportForm


def monitoring_charts(*, project) -> list:
    today = timezone.now().date()
    series = score_series_of(project=project)

    def name(s):
        return f"v{s['model'].version}" + (" (active)" if s["model"].status == "active" else "")

    def points(s, key):
        return [(day_number(d["day"], today), d[key]) for d in s["days"]]

    mean = [{"name": name(s), "points": points(s, "mean"),
             "band": [(day_number(d["day"], today), d["mean"] - d["std"], d["mean"] + d["std"])
                      for d in s["days"] if d["mean"] is not None]} for s in series]
    x = "day (0 = today, UTC)"
    return [
        charts.line_chart(series=mean, title="Mean reward of served scores (band: ± 1 std)", x_label=x,
                          y_label="reward", empty="No scores served yet."),
        charts.line_chart(series=[{"name": name(s), "points": points(s, "count")} for s in series],
                          title="Scores served per day", x_label=x, y_label="scores", empty="No scores served yet."),
        charts.line_chart(series=[{"name": name(s), "points": points(s, "length_correlation")} for s in series],
                          title="Reward–length correlation", x_label=x, y_label="Pearson r", y_range=(-1, 1),
                          empty="No scores served yet."),
    ]


ALERTS_PER_PAGE = 25


def _page(request, form, status=200):
    project = request.project
    alerts = Paginator(alerts_of(project=project), ALERTS_PER_PAGE).get_page(request.GET.get("alerts_page"))
    return render(request, "rewardtrain/monitoring/page.html", {
        "project": project, "charts": monitoring_charts(project=project), "rules": rule_descriptions(),
        "alerts": alerts, "canaries": Canary.objects.filter(project=project).count(),
        "form": form, "can_import": has_role(user=request.user, project=project, roles=(Role.ML,))}, status=status)


@project_role_required(*DATA_ROLES)
def monitoring(request, project_id):
    return _page(request, CanaryImportForm())


@require_POST
@project_role_required(Role.ML)
def canaries_upload(request, project_id):
    form = CanaryImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form, status=400)
    upload = form.cleaned_data["file"]
    try:
        count = canaries_import(project=request.project, fileobj=upload, filename=upload.name or "upload")
    except FileProblems as exc:
        form.add_error("file", str(exc))
        return _page(request, form, status=400)
    messages.success(request, f"Imported {count} canary prompts; the active model and the candidates are being "
                              "scored on them.")
    return redirect("monitoring", project_id=request.project.pk)


canaries_upload.max_body_setting = "VERDICT_UPLOAD_MAX_BYTES"  # config.security.BodyLimitMiddleware


def _alert_action(request, alert_id, action, done: str):
    alert = get_object_or_404(Alert, pk=alert_id, project=request.project)
    try:
        action(alert=alert, user=request.user)
        messages.success(request, f"Alert {alert.pk} {done}.")
    except AlertError as exc:
        messages.error(request, str(exc))
    return redirect("monitoring", project_id=request.project.pk)


@require_POST
@project_role_required(*DATA_ROLES)
def alert_acknowledge_view(request, project_id, alert_id):
    return _alert_action(request, alert_id, alert_acknowledge, "acknowledged")


@require_POST
@project_role_required(*DATA_ROLES)
def alert_resolve_view(request, project_id, alert_id):
    return _alert_action(request, alert_id, alert_resolve, "resolved")
