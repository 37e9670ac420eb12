"""The torchrun path, on the CPU: two gloo processes train the run the worker claimed (VERDICT_TRAINING_DDP=force:2)."""
import json

import pytest
from django.core.files.storage import default_storage

from rewardtrain.models import ModelVersion, TrainingMetric, TrainingRun
from rewardtrain.training import launch, runner, services
from rewardtrain.training.services import training_run_create

pytestmark = pytest.mark.integration  # starts two trainer processes: tens of seconds on a loaded CPU


def start(snapshot, config):
    return training_run_create(project=snapshot.project, snapshot_id=snapshot.pk, config=config)


def test_a_run_under_torchrun_records_metrics_and_registers_a_model(snapshot, quick_config, settings):
    settings.VERDICT_TRAINING_DDP = "force:2"
    run = start(snapshot, quick_config)
    assert runner.training_run_execute(run_id=run.pk) == "succeeded", TrainingRun.objects.get(pk=run.pk).error
    run.refresh_from_db()
    assert (run.status, run.progress) == (TrainingRun.Status.SUCCEEDED, 1.0)
    steps = TrainingMetric.objects.filter(run=run, kind="train").values_list("step", flat=True)
    assert list(steps) == [1, 2]
    model = ModelVersion.objects.get(run=run)
    with default_storage.open(f"{model.artifact_dir}/metrics.json") as handle:
        assert json.load(handle)["train"]["world_size"] == 2  # both ranks trained
    assert model.validation_report["n"] == snapshot.val_rows


def test_cancel_terminates_every_rank(snapshot, tiny_config, monkeypatch, settings):
    settings.VERDICT_TRAINING_DDP = "force:2"
    settings.VERDICT_TRAINING_CANCEL_POLL_SECONDS = 0
    run = start(snapshot, {**tiny_config, "max_steps": 50})
    record, started = services.training_metric_record, []
    popen = launch.subprocess.Popen

    def spy(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        return started[-1]

    def record_then_cancel(**kwargs):
        record(**kwargs)
        if kwargs["step"] == 1:
            services.training_run_cancel(run=TrainingRun.objects.get(pk=run.pk))

    monkeypatch.setattr(launch.subprocess, "Popen", spy)
    monkeypatch.setattr(services, "training_metric_record", record_then_cancel)
    assert runner.training_run_execute(run_id=run.pk) == "cancelled"
    assert started[0].poll() is not None  # torchrun (and with its group, the ranks) stopped
    assert TrainingMetric.objects.filter(run=run, kind="train").count() == 1
    assert not ModelVersion.objects.exists()


def test_auto_uses_torchrun_only_with_several_gpus(settings, monkeypatch):
    import torch

    settings.VERDICT_TRAINING_DDP = "auto"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert launch.ddp_processes() == 4
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert launch.ddp_processes() == 1
    settings.VERDICT_TRAINING_DDP = "off"
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 8)
    assert launch.ddp_processes() == 1
