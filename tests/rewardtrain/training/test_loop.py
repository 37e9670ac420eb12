"""The retrain loop: the beat starts one automatic run per reached count, and auto-promote decides by the
paired bootstrap on the same validation rows."""
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from rewardtrain.models import ModelEvent, ModelVersion, TrainingPolicy, TrainingRun
from rewardtrain.registry.auto_promote import model_version_auto_promote, promote_decision
from rewardtrain.tasks import training_policies_trigger
from rewardtrain.training import runner
from rewardtrain.training.policy import PolicyError, training_policy_trigger, training_policy_update
from rewardtrain.training.services import training_run_cancel, training_run_claim, training_run_create
from tests import factories

from .conftest import learnable_project

Trigger = TrainingRun.Trigger


def judge(project, n):
    annotator = factories.member(project, "annotator")
    for _ in range(n):
        factories.judged_pair(project, annotator)


@pytest.fixture
def looped(project, quick_config):
    learnable_project(project)
    training_policy_update(project=project, retrain_every=3, config=quick_config, snapshot_val_fraction=0.3)
    return project


def test_the_beat_starts_exactly_one_run_when_the_count_is_reached(looped):
    judge(looped, 2)
    assert training_policies_trigger() == {str(looped.pk): "2 of 3 new judgements"}
    assert not TrainingRun.objects.exists()  # switching the loop on counted from then, not from the start

    judge(looped, 1)
    snapshots = looped.snapshots.count()
    training_policies_trigger()
    run = TrainingRun.objects.get()
    assert (run.trigger, run.created_by, run.status) == (Trigger.SCHEDULE, None, TrainingRun.Status.QUEUED)
    assert run.trigger_reason == "3 new judgements (retrain every 3)"
    assert looped.snapshots.count() == snapshots + 1 and run.snapshot == looped.snapshots.first()
    assert run.config["max_steps"] == 2  # the policy's defaults

    assert training_policy_trigger(project_id=looped.pk) == "a run is queued or running"  # twice: still one
    training_run_cancel(run=run)
    assert training_policy_trigger(project_id=looped.pk) == "0 of 3 new judgements"  # the count restarted
    assert TrainingRun.objects.count() == 1
    policy = TrainingPolicy.objects.get(project=looped)
    assert f"started run {run.pk}" in policy.last_note


def test_no_automatic_run_while_another_run_of_the_project_is_running(looped, quick_config):
    snapshot = factories_snapshot(looped)
    manual = training_run_create(project=looped, snapshot_id=snapshot.pk, config=quick_config)
    training_run_claim(run_id=manual.pk, worker="w:1")
    judge(looped, 5)
    assert training_policy_trigger(project_id=looped.pk) == "a run is queued or running"
    assert TrainingRun.objects.count() == 1


def factories_snapshot(project):
    from .conftest import snapshot_of

    return snapshot_of(project)


def test_a_policy_with_a_bad_config_or_confidence_is_refused(project):
    with pytest.raises(PolicyError, match="Unknown config key"):
        training_policy_update(project=project, config={"epoch": 1})
    with pytest.raises(PolicyError, match="promote_confidence"):
        training_policy_update(project=project, promote_confidence=1.2)
    assert not TrainingPolicy.objects.exists()


def report(version=None, low=None, high=None, difference=None, confidence=0.95, active_id=None):
    active = None if version is None else {
        "id": active_id, "version": version, "accuracy": 0.6,
        "comparison": {"difference": difference, "low": low, "high": high, "confidence": confidence,
                       "p_a_better": 0.99 if low > 0 else 0.5, "pairs": 200}}
    return {"accuracy": 0.8, "active_model": active}


def test_the_decision_rule():
    assert promote_decision(report=report(), version=1, confidence=0.95)["outcome"] == "promoted"
    better = promote_decision(report=report(1, 0.05, 0.2, 0.12), version=2, confidence=0.95)
    assert better["outcome"] == "promoted" and better["text"].startswith("Promoted v2: accuracy +0.120 over v1")
    unsure = promote_decision(report=report(1, -0.01, 0.1, 0.04), version=2, confidence=0.95)
    assert unsure["outcome"] == "kept" and "Kept active v1" in unsure["text"] and unsure["low"] == -0.01
    other = promote_decision(report=report(1, 0.05, 0.2, 0.12, confidence=0.9), version=2, confidence=0.99)
    assert other["outcome"] == "kept"  # an interval at another confidence never promotes


def registered(project, snapshot, quick_config, *, version, report_, trigger=Trigger.SCHEDULE, status="candidate"):
    run = training_run_create(project=project, snapshot_id=snapshot.pk, config=quick_config, trigger=trigger)
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.SUCCEEDED)
    return ModelVersion.objects.create(project=project, version=version, run=run, artifact_dir=f"m/{version}",
                                       validation_report=report_, status=status)


def test_auto_promote_promotes_a_clearly_better_model_and_keeps_the_active_one_otherwise(
        project, snapshot, quick_config):
    training_policy_update(project=project, auto_promote=True)
    active = registered(project, snapshot, quick_config, version=1, report_=report(), status="active")
    worse = registered(project, snapshot, quick_config, version=2, report_=report(1, -0.08, 0.02, -0.03, active_id=active.pk))
    decision = model_version_auto_promote(model_version=worse)
    assert decision["outcome"] == "kept"
    worse.refresh_from_db(), active.refresh_from_db()
    assert (worse.status, active.status) == ("candidate", "active")
    assert worse.run.auto_decision["difference"] == -0.03
    kept = ModelEvent.objects.get(model_version=worse, action="keep")
    assert kept.user is None and kept.previous_active == active and kept.detail["low"] == -0.08

    better = registered(project, snapshot, quick_config, version=3, report_=report(1, 0.04, 0.2, 0.12, active_id=active.pk))
    assert model_version_auto_promote(model_version=better)["outcome"] == "promoted"
    better.refresh_from_db(), active.refresh_from_db()
    assert (better.status, active.status) == ("active", "archived")
    event = ModelEvent.objects.get(model_version=better, action="promote")
    assert event.user is None and event.previous_active == active and event.detail["confidence"] == 0.95

    manual = registered(project, snapshot, quick_config, version=4, trigger=Trigger.MANUAL,
                        report_=report(3, 0.04, 0.2, 0.12, active_id=better.pk))
    assert model_version_auto_promote(model_version=manual) is None  # hand-started runs only if the policy says so


def test_the_loop_end_to_end_trains_promotes_the_first_model_and_shows_it(client, looped, ml_engineer):
    training_policy_update(project=looped, auto_promote=True)
    judge(looped, 3)
    training_policy_trigger(project_id=looped.pk)
    run = TrainingRun.objects.get()
    assert runner.training_run_execute(run_id=run.pk) == "succeeded"
    run.refresh_from_db()
    assert run.model_version.status == "active" and run.auto_decision["outcome"] == "promoted"

    client.force_login(ml_engineer)
    page = client.get(reverse("run-list", args=[looped.pk])).content.decode()
    assert "trigger-schedule" in page and "3 new judgements (retrain every 3)" in page
    assert "Promoted v1: there was no active model." in page
    assert "Retrains after 3 new human judgements" in page
    history = client.get(reverse("model-detail", args=[looped.pk, run.model_version.pk])).content.decode()
    assert "Promoted by the system — Promoted v1: there was no active model." in history


def test_ml_engineers_set_the_policy_from_the_page_and_the_api(client, project, ml_engineer):
    client.force_login(ml_engineer)
    response = client.post(reverse("run-policy", args=[project.pk]),
                           {"retrain_every": 50, "auto_promote": "on", "promote_confidence": 0.9, "config": '{"lr": 0.0001}'})
    assert response.status_code == 302
    policy = TrainingPolicy.objects.get(project=project)
    assert (policy.retrain_every, policy.auto_promote, policy.promote_confidence, policy.config) == (
        50, True, 0.9, {"lr": 0.0001})
    bad = client.post(reverse("run-policy", args=[project.pk]), {"retrain_every": 5, "promote_confidence": 0.9,
                                                                  "config": '{"nope": 1}'})
    assert bad.status_code == 400 and "Unknown config key" in bad.content.decode()

    api = APIClient()
    api.force_authenticate(ml_engineer)
    url = f"/api/v1/projects/{project.pk}/training-policy/"
    assert api.get(url).json()["retrain_every"] == 50
    changed = api.patch(url, {"retrain_every": 0, "auto_promote_manual": True}, format="json")
    assert changed.status_code == 200 and changed.json()["retrain_every"] == 0
    refused = api.patch(url, {"config": {"data": "x"}}, format="json")
    assert refused.status_code == 400 and "set by the worker" in refused.json()["error"]["message"]
