"""A real worker is SIGKILLed in the middle of a run: the run resumes on a new worker from its stored
checkpoint and succeeds, and is never left "running"."""
import os
import time

import pytest
import redis

from rewardtrain.models import ModelVersion, TrainingMetric, TrainingRun
from rewardtrain.training.services import training_run_create
from rewardtrain.tasks import training_runs_reap_stale as runs_reap_stale
from tests.conftest import start_celery_worker, stop_celery_worker

from .conftest import learnable_project, snapshot_of

pytestmark = pytest.mark.integration
Status = TrainingRun.Status


def wait_for(predicate, timeout: float, what: str, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_a_sigkilled_worker_run_resumes_from_its_checkpoint_on_a_new_worker(
        transactional_db, project, tiny_bert, tmp_path, settings):
    from config.celery_app import app

    var = tmp_path / "var"
    settings.MEDIA_ROOT = var / "test-media"  # the worker processes read the same storage
    settings.VERDICT_TRAINING_STALE_SECONDS = 1
    env = {"VERDICT_VAR_DIR": str(var), "VERDICT_TRAINING_HEARTBEAT_SECONDS": "0.5"}
    snapshot = snapshot_of(learnable_project(project, n=40))
    # One or two pairs per step: many short steps, so the kill lands mid-run.
    config = {"model": tiny_bert, "max_length": 64, "batch_tokens": 96, "epochs": 1.0, "save_every": 4}
    first = second = None
    try:
        with open(tmp_path / "worker1.log", "w") as log1:
            first = start_celery_worker(env=env, output=log1)
            run = training_run_create(project=project, snapshot_id=snapshot.pk, config=config)
            wait_for(lambda: TrainingRun.objects.filter(pk=run.pk, checkpoint_step__isnull=False).exists(), 90,
                     "the first checkpoint in storage")
            first.kill()  # SIGKILL: no cleanup, no ack, no final write
            first.wait(timeout=10)
        run.refresh_from_db()
        assert run.status == Status.RUNNING and run.attempts == 1
        killed_at = TrainingMetric.objects.filter(run=run, kind="train").count()
        checkpoint = run.checkpoint_step
        assert 0 < run.progress < 0.9, "the run must be killed mid-way"

        time.sleep(1.5)  # the heartbeat goes stale (threshold 1 s in this test)
        assert runs_reap_stale() == {"requeued": [run.pk], "failed": []}
        run.refresh_from_db()
        assert run.status == Status.QUEUED and run.error.startswith("worker lost: no heartbeat since ")

        with open(tmp_path / "worker2.log", "w") as log2:
            second = start_celery_worker(env=env, output=log2)
            wait_for(lambda: TrainingRun.objects.filter(pk=run.pk, status__in=TrainingRun.FINISHED).exists(), 120,
                     "the resumed run to finish", interval=0.2)
        run.refresh_from_db()
        log = (tmp_path / "worker2.log").read_text()
        assert run.status == Status.SUCCEEDED, f"{run.error}\n{log[-3000:]}"
        assert run.attempts == 2 and run.resumed_from_step == checkpoint >= 4
        steps = list(TrainingMetric.objects.filter(run=run, kind="train").values_list("step", flat=True))
        assert steps == list(range(1, len(steps) + 1)) and len(steps) > killed_at
        assert ModelVersion.objects.get(run=run).version == 1
    finally:
        app.conf.task_always_eager = True
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                stop_celery_worker(proc)
        # The killed worker's delivery stays unacknowledged in Redis; drop it so it is not redelivered
        # into a later test run an hour from now.
        redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).delete("unacked", "unacked_index")
