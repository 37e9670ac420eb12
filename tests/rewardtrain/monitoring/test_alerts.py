"""Alerts provoked with synthetic score streams: previous days written as ScoreDaily rows, today's scores
recorded through the scoring statistics service; the rule fires once, its webhook delivery is queued,
and acknowledge / resolve work over the API and the page with their permissions."""
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.models import Webhook, WebhookDelivery
from rewardtrain.models import Alert, ModelVersion, ScoreDaily
from rewardtrain.monitoring.alerts import alerts_evaluate
from rewardtrain.scoring import stats
from rewardtrain.tasks import alerts_evaluate as alerts_evaluate_task


@pytest.fixture(autouse=True)
def clean_buffer(settings):
    settings.VERDICT_SCORE_STATS_FLUSH_SECONDS = 0
    settings.VERDICT_WEBHOOK_ALLOW_PRIVATE = True
    stats._buffer.clear()
    yield
    stats._buffer.clear()


@pytest.fixture
def active(project):
    return ModelVersion.objects.create(project=project, version=1, artifact_dir="models/x", status="active")


@pytest.fixture
def hook(project):
    return Webhook.objects.create(project=project, url="http://127.0.0.1:9/hook", secret="s", events=["alert.fired"])


def day_row(model, day, rewards, lengths):
    r, n = np.asarray(rewards, float), np.asarray(lengths, float)
    return ScoreDaily.objects.create(
        model_version=model, day=day, count=len(r), sum_reward=r.sum(), sum_reward_sq=(r * r).sum(),
        sum_length=n.sum(), sum_length_sq=(n * n).sum(), sum_length_reward=(n * r).sum(), min_reward=r.min(),
        max_reward=r.max(), histogram=stats.bin_counts(r).tolist())


def history(model, days=5, n=200, mean=1.0, seed=0):
    rng = np.random.default_rng(seed)
    today = timezone.now().date()
    for d in range(1, days + 1):
        day_row(model, today - timedelta(days=d), rng.normal(mean, 0.5, n), rng.integers(20, 400, n))


def serve_today(model, rewards, lengths):
    """Today's traffic through the recording service the scoring worker uses."""
    for reward, length in zip(rewards, lengths):
        stats.score_stats_add(model_version_id=model.pk, responses=["x" * int(length)], rewards=[float(reward)],
                              normalized=[float(reward)])
    stats.score_stats_flush(force=True)


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_drop_below_the_baseline_fires_once_with_a_webhook_and_can_be_acknowledged_and_resolved(
        project, active, hook, ml_engineer, project_admin, annotator):
    history(active)
    rng = np.random.default_rng(1)
    serve_today(active, rng.normal(0.7, 0.5, 100), rng.integers(20, 400, 100))  # ~6 standard errors down
    assert alerts_evaluate_task() and Alert.objects.count() == 1
    alert = Alert.objects.get()
    assert (alert.rule, alert.status, alert.model_version, alert.severity) == ("mean_drop", "open", active, "critical")
    assert alert.numbers["drop_in_standard_errors"] > 4 and alert.numbers["today_count"] == 100
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert delivery.event == "alert.fired" and delivery.payload["data"]["alert"]["id"] == alert.pk

    # Still open: more bad traffic and more evaluations do not fire again.
    serve_today(active, rng.normal(0.7, 0.5, 50), rng.integers(20, 400, 50))
    assert alerts_evaluate() == {"fired": []} and Alert.objects.count() == 1
    assert WebhookDelivery.objects.filter(webhook=hook).count() == 1

    listed = api(project_admin).get(f"/api/v1/projects/{project.pk}/alerts/?status=open").json()
    assert [a["id"] for a in listed["alerts"]] == [alert.pk] and listed["thresholds"]["mean_drop_k"] == 4.0
    assert api(annotator).post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 403
    out = api(ml_engineer).post(f"/api/v1/alerts/{alert.pk}/acknowledge/").json()
    assert out["status"] == "acknowledged" and out["acknowledged_by"] == ml_engineer.username
    assert alerts_evaluate() == {"fired": []}  # acknowledged is not resolved: still quiet
    out = api(project_admin).post(f"/api/v1/alerts/{alert.pk}/resolve/").json()
    assert out["status"] == "resolved" and out["resolved_by"] == project_admin.username and out["resolved_at"]
    bad = api(project_admin).post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    assert bad.status_code == 400 and "already resolved" in bad.json()["error"]["message"]
    # Resolved: the rule may fire again while the drop lasts.
    assert len(alerts_evaluate()["fired"]) == 1 and Alert.objects.filter(status="open").count() == 1


def test_normal_traffic_and_too_few_scores_fire_nothing(project, active, settings):
    history(active)
    rng = np.random.default_rng(2)
    serve_today(active, rng.normal(0.2, 0.5, 49), rng.integers(20, 400, 49))  # a big drop, but under 50 scores
    assert alerts_evaluate() == {"fired": []}
    ScoreDaily.objects.filter(model_version=active, day=timezone.now().date()).delete()
    serve_today(active, rng.normal(1.0, 0.5, 200), rng.integers(20, 400, 200))
    assert alerts_evaluate() == {"fired": []} and not Alert.objects.exists()
    settings.VERDICT_ALERT_MIN_SCORES = 10  # the threshold is a setting
    ScoreDaily.objects.filter(model_version=active, day=timezone.now().date()).delete()
    serve_today(active, rng.normal(0.0, 0.5, 20), rng.integers(20, 400, 20))
    assert [a.rule for a in Alert.objects.all()] == [] and len(alerts_evaluate()["fired"]) == 1


def test_reward_growing_with_length_fires_the_length_correlation_rule(project, active, hook):
    history(active)
    rng = np.random.default_rng(3)
    lengths = rng.integers(20, 400, 120)
    rewards = 1.0 + (lengths - lengths.mean()) / lengths.std() * 0.45 + rng.normal(0, 0.2, 120)  # same mean, r ≈ 0.9
    serve_today(active, rewards, lengths)
    fired = alerts_evaluate()["fired"]
    alert = Alert.objects.get(pk__in=fired)
    assert len(fired) == 1 and alert.rule == "length_correlation"
    assert alert.numbers["length_correlation"] == pytest.approx(np.corrcoef(lengths, rewards)[0, 1], abs=1e-6)
    assert "0.5" in alert.message and WebhookDelivery.objects.filter(webhook=hook).count() == 1


def test_monitoring_page_plots_the_days_and_its_buttons_work(client, project, active, project_admin, annotator,
                                                             ml_engineer):
    history(active, days=3)
    previous = ModelVersion.objects.create(project=project, version=2, artifact_dir="models/y", status="archived")
    history(previous, days=2, mean=0.5)
    alert = Alert.objects.create(project=project, model_version=active, rule="mean_drop", message="<b>x</b> fell")
    client.force_login(project_admin)
    page = client.get(f"/train/projects/{project.pk}/monitoring/").content.decode()
    assert page.count("<svg") >= 3 and "polygon" in page and "v1 (active)" in page and ">v2<" in page
    assert "&lt;b&gt;x&lt;/b&gt; fell" in page
    assert "more than 4 standard errors" in page and "above 0.5" in page and "above 0.3" in page
    assert "Replace the canary set" not in page  # ML engineers import canaries
    assert f"/train/projects/{project.pk}/monitoring/" in client.get(f"/projects/{project.pk}/").content.decode()
    client.post(f"/train/projects/{project.pk}/monitoring/alerts/{alert.pk}/acknowledge/")
    alert.refresh_from_db()
    assert alert.status == "acknowledged" and alert.acknowledged_by == project_admin
    client.force_login(annotator)
    assert client.post(f"/train/projects/{project.pk}/monitoring/alerts/{alert.pk}/resolve/").status_code == 403
    assert client.get(f"/train/projects/{project.pk}/monitoring/").status_code == 403
    client.force_login(ml_engineer)
    client.post(f"/train/projects/{project.pk}/monitoring/alerts/{alert.pk}/resolve/")
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_by == ml_engineer


def test_a_long_alert_list_is_paginated(client, project, active, project_admin):
    for i in range(30):
        Alert.objects.create(project=project, model_version=active, rule="canary_shift", message=f"alert number {i}",
                             status="resolved")
    client.force_login(project_admin)
    first = client.get(f"/train/projects/{project.pk}/monitoring/").content.decode()
    assert first.count('<tr id="alert-') == 25 and "alerts page 1 of 2" in first and "alert number 29" in first
    second = client.get(f"/train/projects/{project.pk}/monitoring/", {"alerts_page": 2}).content.decode()
    assert second.count('<tr id="alert-') == 5 and "alert number 0<" in second


def test_a_synthetic_drop_reaches_a_failing_receiver_and_the_log_and_audit_show_it(
        client, project, active, project_admin, settings, django_capture_on_commit_callbacks):
    from annotation.models import AuditEvent
    from annotation.services.webhooks import webhook_create
    from tests.annotation.test_webhooks import Receiver

    settings.VERDICT_WEBHOOK_BACKOFF_SECONDS = 0.1
    receiver = Receiver(fail_first=2)
    try:
        hook = webhook_create(project=project, url=receiver.url, events=["alert.fired"])
        receiver.secret = hook.secret
        history(active)
        rng = np.random.default_rng(5)
        serve_today(active, rng.normal(0.6, 0.5, 120), rng.integers(20, 400, 120))
        with django_capture_on_commit_callbacks(execute=True):
            fired = alerts_evaluate()["fired"]
        assert len(fired) == 1
        codes = list(WebhookDelivery.objects.filter(webhook=hook).order_by("attempt").values_list("response_code",
                                                                                                  flat=True))
        assert codes == [500, 500, 200] and all(r["signed"] for r in receiver.requests)
        client.force_login(project_admin)
        log = client.get(f"/projects/{project.pk}/webhooks/").content.decode()
        assert log.count(">500<") == 2 and log.count(">200<") == 1 and "alert.fired" in log
        client.post(f"/train/projects/{project.pk}/monitoring/alerts/{fired[0]}/acknowledge/")
        client.post(f"/train/projects/{project.pk}/monitoring/alerts/{fired[0]}/resolve/")
        trail = list(AuditEvent.objects.filter(project_id=project.pk, action__startswith="alert.")
                     .order_by("id").values_list("action", "username", "target_id"))
        assert trail == [("alert.acknowledged", project_admin.username, str(fired[0])),
                         ("alert.resolved", project_admin.username, str(fired[0]))]
        audit_page = client.get(f"/projects/{project.pk}/audit/", {"action": "alert."}).content.decode()
        assert audit_page.count("<td>alert.") == 2
    finally:
        receiver.close()
