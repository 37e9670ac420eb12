"""Training runs end to end on a tiny model: metrics, validation, registry, claims, cancel, resume, reaper."""
import json
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from rewardtrain.snapshots.exports import artifact_rows
from rewardtrain.models import ModelEvent, ModelVersion, TrainingMetric, TrainingRun
from rewardtrain.registry.services import model_version_promote
from rewardtrain.training import runner, services
from rewardtrain.training.services import RunError, training_run_create
from rewardtrain.training.storage import storage_files

from .conftest import snapshot_of

Status = TrainingRun.Status


def start(snapshot, config, user=None):
    return training_run_create(project=snapshot.project, snapshot_id=snapshot.pk, config=config, user=user)


def test_a_run_records_every_step_validates_and_registers_a_candidate(snapshot, tiny_config, ml_engineer):
    run = start(snapshot, tiny_config, ml_engineer)
    assert runner.training_run_execute(run_id=run.pk, worker="host-a:1") == "succeeded"
    run.refresh_from_db()
    assert (run.status, run.progress, run.error, run.attempts, run.worker) == (Status.SUCCEEDED, 1.0, "", 1, "host-a:1")
    steps = list(TrainingMetric.objects.filter(run=run, kind="train").values_list("step", flat=True))
    assert steps == list(range(1, len(steps) + 1)) and len(steps) >= 4
    assert TrainingMetric.objects.filter(run=run, kind="eval").exists()
    assert all(m.loss is not None and m.lr is not None for m in TrainingMetric.objects.filter(run=run, kind="train"))
    assert run.checkpoint_path == ""  # a finished run keeps no checkpoint

    model = run.model_version
    assert (model.version, model.status) == (1, ModelVersion.Status.CANDIDATE)
    names = [n.rsplit("/", 1)[-1] for n in storage_files(prefix=model.artifact_dir)]
    assert {"config.json", "model.safetensors", "rewardtrain.json", "tokenizer.json"} <= set(names)
    report = model.validation_report
    val = list(artifact_rows(snapshot=snapshot, split="val"))
    assert report["n"] == len(val) == snapshot.val_rows
    assert 0 <= report["accuracy"] <= 1 and 0 <= report["ece"] <= 1
    assert set(report["accuracy_by_criterion"]) == {"overall"}
    strict = [r for r in val if not r["tie"]]
    longer = sum(len(r["chosen"]) > len(r["rejected"]) for r in strict) / len(strict)
    assert report["baselines"]["longer_wins"] == {"accuracy": pytest.approx(longer), "pairs": len(strict)}
    overlapping = [r["agreement"] for r in val if r["votes"] > 1]
    expected_ceiling = {"accuracy": pytest.approx(sum(overlapping) / len(overlapping)),
                        "pairs": len(overlapping)} if overlapping else None
    assert report["agreement_ceiling"] == expected_ceiling
    histogram = report["reward_histogram"]
    assert sum(histogram["chosen"]) == sum(histogram["rejected"]) == len(val)
    for name in report["plots"].values():
        assert default_storage.open(name).read(8) == b"\x89PNG\r\n\x1a\n"
    assert report["active_model"] is None
    assert ModelEvent.objects.get(model_version=model).action == "register"
    json.dumps(report, allow_nan=False)  # valid JSON for any client


def test_the_active_model_is_scored_on_the_same_rows(snapshot, quick_config):
    first = start(snapshot, quick_config)
    runner.training_run_execute(run_id=first.pk)
    model_version_promote(model_version=ModelVersion.objects.get(run=first))
    second = start(snapshot, {**quick_config, "seed": 1})
    runner.training_run_execute(run_id=second.pk)
    report = ModelVersion.objects.get(run=second).validation_report
    active = report["active_model"]
    assert active["version"] == 1 and active["n"] == report["n"]
    assert active["accuracy"] == pytest.approx(ModelVersion.objects.get(run=first).validation_report["accuracy"])
    comparison = active["comparison"]
    assert comparison["difference"] == pytest.approx(report["accuracy"] - active["accuracy"])
    assert comparison["low"] <= comparison["difference"] <= comparison["high"]


def test_a_second_delivery_never_trains_while_the_first_beats(snapshot, quick_config):
    run = start(snapshot, quick_config)
    assert services.training_run_claim(run_id=run.pk, worker="host-a:1") is not None
    assert runner.training_run_execute(run_id=run.pk, worker="host-b:2") == "not claimed (status running)"
    assert not TrainingMetric.objects.filter(run=run).exists()
    run.refresh_from_db()
    assert (run.worker, run.attempts) == ("host-a:1", 1)
    # Once the first worker's heartbeat is stale, a delivery takes over (and resumes).
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert runner.training_run_execute(run_id=run.pk, worker="host-b:2") == "succeeded"
    run.refresh_from_db()
    assert (run.worker, run.attempts, run.status) == ("host-b:2", 2, Status.SUCCEEDED)
    assert runner.training_run_execute(run_id=run.pk) == "not claimed (status succeeded)"
    assert ModelVersion.objects.filter(run=run).count() == 1


def test_cancel_stops_a_running_run_at_the_next_step(snapshot, tiny_config, monkeypatch, settings):
    settings.VERDICT_TRAINING_CANCEL_POLL_SECONDS = 0
    run = start(snapshot, tiny_config)
    record = services.training_metric_record

    def record_then_cancel(**kwargs):
        record(**kwargs)
        if kwargs["step"] == 2:
            services.training_run_cancel(run=TrainingRun.objects.get(pk=run.pk))

    monkeypatch.setattr(services, "training_metric_record", record_then_cancel)
    assert runner.training_run_execute(run_id=run.pk) == "cancelled"
    run.refresh_from_db()
    assert run.status == Status.CANCELLED and run.finished_at
    assert TrainingMetric.objects.filter(run=run, kind="train").count() == 2
    assert not ModelVersion.objects.exists()


def test_cancelling_a_queued_run_ends_it_before_any_worker_takes_it(snapshot, tiny_config):
    run = start(snapshot, tiny_config)
    services.training_run_cancel(run=run)
    assert run.status == Status.CANCELLED
    assert runner.training_run_execute(run_id=run.pk) == "not claimed (status cancelled)"


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: nothing in the task catches it, nothing is written after it."""


def test_a_lost_worker_run_is_requeued_and_resumes_from_the_stored_checkpoint(
        snapshot, tiny_config, monkeypatch, settings, django_capture_on_commit_callbacks):
    run = start(snapshot, tiny_config)
    beat = services.training_run_beat

    def die_after_first_checkpoint(**kwargs):
        if TrainingRun.objects.filter(pk=run.pk).exclude(checkpoint_path="").exists():
            raise WorkerKilled()
        return beat(**kwargs)

    monkeypatch.setattr(services, "training_run_beat", die_after_first_checkpoint)
    with pytest.raises(WorkerKilled):
        runner.training_run_execute(run_id=run.pk, worker="host-a:1")
    monkeypatch.setattr(services, "training_run_beat", beat)
    run.refresh_from_db()
    assert run.status == Status.RUNNING and run.checkpoint_step == 3
    assert storage_files(prefix=run.checkpoint_path)  # in storage, not on the dead host's disk

    later = timezone.now() + timedelta(seconds=settings.VERDICT_TRAINING_STALE_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):  # the eager re-enqueue runs the task here
        assert services.training_runs_reap_stale(now=later) == {"requeued": [run.pk], "failed": []}
    run.refresh_from_db()
    assert (run.status, run.attempts, run.resumed_from_step) == (Status.SUCCEEDED, 2, 3)
    assert run.model_version.version == 1


def test_the_reaper_fails_a_run_whose_attempts_are_spent(snapshot, tiny_config, settings):
    run = start(snapshot, tiny_config)
    since = timezone.now() - timedelta(minutes=10)
    TrainingRun.objects.filter(pk=run.pk).update(status=Status.RUNNING, attempts=2, heartbeat_at=since,
                                                  worker="host-a:1")
    fresh = start(snapshot, tiny_config)
    TrainingRun.objects.filter(pk=fresh.pk).update(status=Status.RUNNING, attempts=1, heartbeat_at=timezone.now())
    assert services.training_runs_reap_stale() == {"requeued": [], "failed": [run.pk]}
    run.refresh_from_db()
    assert run.status == Status.FAILED and run.finished_at
    assert run.error.startswith("worker lost: no heartbeat since ") and "host-a:1" in run.error
    assert TrainingRun.objects.get(pk=fresh.pk).status == Status.RUNNING


def test_a_snapshot_without_validation_rows_is_refused_and_never_trains(project, tiny_config):
    from .conftest import learnable_project

    snapshot = snapshot_of(learnable_project(project, n=6), val_fraction=0.0)
    with pytest.raises(RunError, match=f"Snapshot v{snapshot.version} has no validation rows: cut a snapshot"):
        start(snapshot, tiny_config)
    # A run that got past the check (made directly here) fails before training, with the same message.
    run = TrainingRun.objects.create(project=project, snapshot=snapshot, config=tiny_config)
    assert runner.training_run_execute(run_id=run.pk) == "failed"
    run.refresh_from_db()
    assert run.status == Status.FAILED and "has no validation rows" in run.error
    assert not TrainingMetric.objects.filter(run=run).exists() and not ModelVersion.objects.exists()


@pytest.mark.parametrize("config, message", [
    ({"epochz": 1}, "Unknown config key 'epochz'"),
    ({"epochs": "two"}, "config.epochs must be float"),
    ({"data": "/etc/passwd"}, "config.data is set by the worker"),
    ({"tie_loss": "nope"}, "tie_loss must be one of"),
    ({"lr": 0}, "config.lr must be a finite number greater than 0"),
])
def test_a_bad_config_is_refused_before_a_run_exists(snapshot, config, message):
    with pytest.raises(RunError, match=message):
        start(snapshot, config)
    assert not TrainingRun.objects.exists()


def test_a_snapshot_of_another_project_is_refused(snapshot):
    from tests import factories

    other = factories.ProjectFactory()
    with pytest.raises(RunError, match=f"No snapshot {snapshot.pk} in project"):
        training_run_create(project=other, snapshot_id=snapshot.pk, config={})


def test_a_run_cancelled_while_the_model_loads_stops_before_the_first_step(snapshot, tiny_config, monkeypatch,
                                                                           settings):
    """Cancel pressed on a run that shows "running" but has recorded no step yet: the worker is
    exporting the snapshot or loading the model. It must stop before training, however long the
    cancel poll interval is."""
    from rewardtrain.ml import trainer

    settings.VERDICT_TRAINING_CANCEL_POLL_SECONDS = 60
    run = start(snapshot, tiny_config)
    load = trainer.load_model

    def cancel_then_load(*args, **kwargs):
        services.training_run_cancel(run=TrainingRun.objects.get(pk=run.pk))
        return load(*args, **kwargs)

    monkeypatch.setattr(trainer, "load_model", cancel_then_load)
    assert runner.training_run_execute(run_id=run.pk) == "cancelled"
    run.refresh_from_db()
    assert (run.status, run.progress) == (Status.CANCELLED, 0.0) and run.finished_at
    assert run.error == "Cancelled before the first training step."
    assert not TrainingMetric.objects.filter(run=run).exists()
    assert not ModelVersion.objects.exists()


def test_a_run_cancelled_between_its_claim_and_the_export_never_trains(snapshot, tiny_config, monkeypatch):
    run = start(snapshot, tiny_config)
    claim = services.training_run_claim

    def claim_then_cancel(**kwargs):
        token = claim(**kwargs)
        services.training_run_cancel(run=TrainingRun.objects.get(pk=run.pk))
        return token

    def no_export(*args, **kwargs):
        raise AssertionError("a cancelled run must not export its snapshot")

    monkeypatch.setattr(services, "training_run_claim", claim_then_cancel)
    monkeypatch.setattr(runner, "_export", no_export)
    assert runner.training_run_execute(run_id=run.pk) == "cancelled"
    run.refresh_from_db()
    assert run.status == Status.CANCELLED and run.error == "Cancelled before the first training step."
