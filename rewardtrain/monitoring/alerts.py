"""Alert rules, each with a threshold from settings (shown on the monitoring page), and the alert
lifecycle open → acknowledged → resolved. A rule fires at most one unresolved alert per (project, rule,
model version) — a database constraint, so two evaluations at once cannot both fire — and every fired
alert goes to the project's webhooks (event "alert.fired").

Rules:
* mean_drop: today's mean reward of the active model's served scores (ScoreDaily) is below the pooled
  mean of its previous days (up to VERDICT_ALERT_BASELINE_DAYS) by more than K standard errors of the
  difference, sqrt(var_today/n_today + var_base/n_base); needs ≥ MIN_SCORES scores today and in the baseline.
* length_correlation: today's reward–length correlation is above the threshold (possible reward hacking);
  needs ≥ MIN_SCORES scores today.
* canary_shift: a version's canary rewards vs the active model's: KS > threshold or |mean shift| > threshold σ;
  once per (version, reference model, canary set), since the same comparison always gives the same numbers.
"""
from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.models import Project
from annotation.services.audit import audit_record
from annotation.services.webhooks import webhook_alert_fired

from ..models import Alert, ModelVersion, ScoreDaily
from ..scoring.stats import score_day_summary
from .canaries import canary_shift_of, canary_thresholds

Rule = Alert.Rule


class AlertError(ValueError):
    """The alert's state forbids the action; the message says why. Nothing was changed."""


def alert_thresholds() -> dict:
    """Every rule's threshold, as the page and the API show them."""
    return {"mean_drop_k": float(getattr(settings, "VERDICT_ALERT_MEAN_DROP_K", 4.0)),
            "min_scores": int(getattr(settings, "VERDICT_ALERT_MIN_SCORES", 50)),
            "baseline_days": int(getattr(settings, "VERDICT_ALERT_BASELINE_DAYS", 28)),
            "length_correlation": float(getattr(settings, "VERDICT_ALERT_LENGTH_CORRELATION", 0.5)),
            "canary_ks": canary_thresholds()["ks"],
            "canary_mean_shift_sigma": canary_thresholds()["mean_shift_sigma"]}


def rule_descriptions() -> list[dict]:
    t = alert_thresholds()
    return [
        {"rule": Rule.MEAN_DROP, "label": Rule.MEAN_DROP.label, "text":
         f"Today's mean reward of the active model is more than {t['mean_drop_k']:g} standard errors below the "
         f"pooled mean of its previous {t['baseline_days']} days (at least {t['min_scores']} scores today)."},
        {"rule": Rule.LENGTH_CORRELATION, "label": Rule.LENGTH_CORRELATION.label, "text":
         f"Today's reward–length correlation is above {t['length_correlation']:g} (possible reward hacking; at "
         f"least {t['min_scores']} scores today)."},
        {"rule": Rule.CANARY_SHIFT, "label": Rule.CANARY_SHIFT.label, "text":
         f"A new version's canary rewards differ from the active model's: KS statistic above {t['canary_ks']:g} "
         f"or mean shift beyond ±{t['canary_mean_shift_sigma']:g} σ of the active model's canary rewards."},
    ]


def alert_payload(alert: Alert) -> dict:
    return {"id": alert.pk, "rule": alert.rule, "severity": alert.severity, "message": alert.message,
            "model": {"id": alert.model_version_id, "version": alert.model_version.version}
            if alert.model_version_id else None, "numbers": alert.numbers, "status": alert.status,
            "created_at": alert.created_at.isoformat()}


def alert_fire(*, model: ModelVersion, rule: str, message: str, numbers: dict,
               severity: str = Alert.Severity.WARNING) -> Alert | None:
    """Opens the alert and queues its webhooks, unless one for (project, rule, model) is still unresolved
    (then None)."""
    with transaction.atomic():
        if Alert.objects.filter(project_id=model.project_id, rule=rule, model_version=model).exclude(
                status=Alert.Status.RESOLVED).exists():
            return None
        try:
            with transaction.atomic():
                alert = Alert.objects.create(project_id=model.project_id, model_version=model, rule=rule,
                                             severity=severity, message=message, numbers=numbers)
        except IntegrityError:  # fired meanwhile by a concurrent evaluation
            return None
        webhook_alert_fired(project_id=model.project_id, alert=alert_payload(alert))
    return alert


def _pooled(rows) -> dict | None:
    n = sum(r.count for r in rows)
    if not n:
        return None
    mean = sum(r.sum_reward for r in rows) / n
    var = max(sum(r.sum_reward_sq for r in rows) / n - mean * mean, 0.0)
    return {"count": n, "mean": mean, "std": math.sqrt(var), "days": len(rows)}


def traffic_check(*, model: ModelVersion, day=None) -> list[Alert]:
    """Rules mean_drop and length_correlation on the model's served scores of `day` (default today)."""
    t = alert_thresholds()
    day = day or timezone.now().date()
    today = ScoreDaily.objects.filter(model_version=model, day=day).first()
    if today is None or today.count < t["min_scores"]:
        return []
    summary = score_day_summary(today)
    fired = []
    base = _pooled(list(ScoreDaily.objects.filter(model_version=model, day__lt=day,
                                                  day__gte=day - timedelta(days=t["baseline_days"]))))
    if base and base["count"] >= t["min_scores"]:
        se = math.sqrt(summary["std"] ** 2 / today.count + base["std"] ** 2 / base["count"])
        drop = base["mean"] - summary["mean"]
        z = drop / se if se > 0 else (math.inf if drop > 0 else 0.0)
        if z > t["mean_drop_k"]:
            numbers = {"day": day.isoformat(), "today_mean": summary["mean"], "today_std": summary["std"],
                       "today_count": today.count, "baseline_mean": base["mean"], "baseline_std": base["std"],
                       "baseline_count": base["count"], "baseline_days": base["days"], "standard_error": se,
                       "drop_in_standard_errors": z if math.isfinite(z) else None, "threshold_k": t["mean_drop_k"]}
            fired.append(alert_fire(model=model, rule=Rule.MEAN_DROP, severity=Alert.Severity.CRITICAL, numbers=numbers,
                                    message=f"Mean reward of v{model.version} on {day} is {summary['mean']:.4g}, "
                                            f"{drop:.4g} below its baseline {base['mean']:.4g} "
                                            f"({z:.1f} standard errors; threshold {t['mean_drop_k']:g})."))
    corr = summary["length_correlation"]
    if corr is not None and corr > t["length_correlation"]:
        numbers = {"day": day.isoformat(), "length_correlation": corr, "count": today.count,
                   "threshold": t["length_correlation"]}
        fired.append(alert_fire(model=model, rule=Rule.LENGTH_CORRELATION, numbers=numbers,
                                message=f"Reward–length correlation of v{model.version} on {day} is {corr:.3f}, above "
                                        f"{t['length_correlation']:g}: longer answers score higher (possible reward "
                                        "hacking)."))
    return [a for a in fired if a is not None]


def alert_canary_check(*, model: ModelVersion, shift: dict | None) -> Alert | None:
    """Rule canary_shift on a version's canary shift (rewardtrain.monitoring.canaries.canary_shift_of)."""
    if not shift or shift.get("status") != "ok" or not shift["beyond_threshold"]:
        return None
    if Alert.objects.filter(model_version=model, rule=Rule.CANARY_SHIFT, numbers__canary_set=shift["canary_set"],
                            numbers__reference__id=shift["reference"]["id"]).exists():
        return None  # this comparison was already reported (a resolved one too: its numbers cannot change)
    sigma, limits = shift["mean_shift_sigma"], shift["thresholds"]
    return alert_fire(model=model, rule=Rule.CANARY_SHIFT, numbers={
        k: shift[k] for k in ("ks", "p_value", "mean_shift_sigma", "candidate_mean", "reference_mean",
                              "reference_std", "n", "reference", "thresholds", "canary_set")},
        message=f"Canary rewards of v{model.version} shifted against v{shift['reference']['version']}: KS "
                f"{shift['ks']:.3f} (threshold {limits['ks']:g}), mean shift "
                f"{'n/a' if sigma is None else format(sigma, '+.2f')} σ (threshold ±{limits['mean_shift_sigma']:g}).")


def alerts_evaluate() -> dict:
    """Beat, every 5 minutes: the traffic rules on every active model, the canary rule on every candidate."""
    fired = []
    for model in ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE):
        fired += traffic_check(model=model)
    for model in ModelVersion.objects.filter(status=ModelVersion.Status.CANDIDATE,
                                             project__canaries__isnull=False).distinct():
        alert = alert_canary_check(model=model, shift=canary_shift_of(model=model))
        if alert:
            fired.append(alert)
    return {"fired": [a.pk for a in fired]}


def _transition(*, alert_id: int, to: str, user) -> Alert:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert_id)
        if alert.status == to:  # a double click or a retry: nothing to do
            return alert
        if alert.status == Alert.Status.RESOLVED:
            raise AlertError(f"Alert {alert.pk} is already resolved: it can no longer be acknowledged.")
        now, who = timezone.now(), user if getattr(user, "is_authenticated", False) else None
        if to == Alert.Status.ACKNOWLEDGED:
            alert.acknowledged_by, alert.acknowledged_at = who, now
        else:
            alert.resolved_by, alert.resolved_at = who, now
        alert.status = to
        alert.save()
        audit_record(action=f"alert.{to}", user=who, project=Project.objects.get(pk=alert.project_id), target=alert,
                     detail={"rule": alert.rule, "model_version": alert.model_version_id, "message": alert.message})
    return alert


def alert_acknowledge(*, alert: Alert, user) -> Alert:
    """Someone is on it: the alert stays (and its rule stays quiet for this model) until resolved."""
    return _transition(alert_id=alert.pk, to=Alert.Status.ACKNOWLEDGED, user=user)


def alert_resolve(*, alert: Alert, user) -> Alert:
    """Closes the alert; the rule may fire again for this model."""
    return _transition(alert_id=alert.pk, to=Alert.Status.RESOLVED, user=user)
