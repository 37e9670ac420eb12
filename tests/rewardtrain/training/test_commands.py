"""train_reward_model and promote_model as a script user runs them."""
import io

import pytest
from django.core.management import CommandError, call_command

from rewardtrain.models import DatasetSnapshot, ModelEvent, ModelVersion, TrainingRun
from rewardtrain.training import runner

from .conftest import learnable_project


def run_command(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def sets(config: dict) -> list[str]:
    import json

    return [arg for key, value in config.items() for arg in ("--set", f"{key}={json.dumps(value)}")]


def test_without_a_worker_the_run_is_cut_and_queued_for_later(project, tiny_config):
    learnable_project(project)
    out, _ = run_command("train_reward_model", project.name, *sets(tiny_config))
    snapshot = DatasetSnapshot.objects.get()  # cut now, synchronously
    run = TrainingRun.objects.get()
    assert f"Snapshot {snapshot.pk}: version 1, {snapshot.train_rows} train / {snapshot.val_rows} val rows" in out
    assert f"Training run {run.pk} queued on snapshot {snapshot.pk}" in out
    assert run.status == "queued" and run.config["lr"] == tiny_config["lr"]


def test_wait_follows_the_run_with_a_bar_and_prints_the_report(project, quick_config, snapshot, monkeypatch):
    from rewardtrain.management.commands import train_reward_model

    def a_worker_runs_meanwhile(seconds):  # a worker starting later picks the queued run up
        for run in TrainingRun.objects.filter(status="queued"):
            runner.training_run_execute(run_id=run.pk)

    monkeypatch.setattr(train_reward_model.time, "sleep", a_worker_runs_meanwhile)
    out, err = run_command("train_reward_model", str(project.pk), "--snapshot", str(snapshot.pk), "--wait",
                           *sets(quick_config))
    model = ModelVersion.objects.get()
    assert f"Model version 1 (id {model.pk}) registered (candidate)." in out
    assert f"accuracy:           {100 * model.validation_report['accuracy']:.1f}%" in out
    assert "longer wins:" in out and "ECE:" in out
    assert "100%" in err and "succeeded" in err  # the progress bar, finished


def test_in_process_training_needs_no_worker(project, quick_config, snapshot):
    out, _ = run_command("train_reward_model", project.name, "--snapshot", str(snapshot.pk), "--in-process",
                         *sets(quick_config))
    assert "Training in this process: succeeded." in out and ModelVersion.objects.count() == 1


@pytest.mark.parametrize("args, message", [
    (["--set", "epochz=1"], "Unknown config key 'epochz'"),
    (["--set", "epochs"], "Expected key=value"),
    (["--snapshot", "999999"], "No snapshot 999999 in project"),
])
def test_bad_arguments_are_command_errors(project, snapshot, args, message):
    with pytest.raises(CommandError, match=message):
        run_command("train_reward_model", project.name, *args)
    assert not TrainingRun.objects.exists()


def test_promote_and_roll_back_from_the_command_line(project):
    v1, v2 = (ModelVersion.objects.create(project=project, version=v, artifact_dir=f"m/{v}") for v in (1, 2))
    out, _ = run_command("promote_model", str(v1.pk))
    assert f"Version 1 (id {v1.pk}) is now the active model of “{project.name}”." in out
    run_command("promote_model", str(v2.pk))
    out, _ = run_command("promote_model", "--rollback", project.name)
    assert "version 1" in out and ModelVersion.objects.get(pk=v1.pk).status == "active"
    assert list(ModelEvent.objects.values_list("action", flat=True)) == ["rollback", "promote", "promote"]
    with pytest.raises(CommandError, match="nothing to roll back to"):
        run_command("promote_model", "--rollback", project.name)
    with pytest.raises(CommandError, match="either a MODEL_ID"):
        run_command("promote_model")
    with pytest.raises(CommandError, match="No model version 999999"):
        run_command("promote_model", "999999")


def test_training_policy_command_sets_and_shows_the_loop(project):
    from rewardtrain.models import TrainingPolicy

    out = io.StringIO()
    call_command("training_policy", str(project.pk), "--retrain-every", "200", "--auto-promote", "--confidence",
                 "0.9", "--set", "epochs=2", stdout=out)
    policy = TrainingPolicy.objects.get(project=project)
    assert (policy.retrain_every, policy.auto_promote, policy.promote_confidence, policy.config) == (
        200, True, 0.9, {"epochs": 2})
    assert "Retrain: after 200 new judgements; auto-promote: when better at 90% confidence" in out.getvalue()
    with pytest.raises(CommandError, match="promote_confidence"):
        call_command("training_policy", str(project.pk), "--confidence", "1.5")
