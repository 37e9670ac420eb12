"""An acquisition round on a real Celery worker over Redis: the chord of chunk scorings, then the pick."""
import time

import pytest

from annotation.models import Task
from rewardtrain.active.services import acquisition_round_create
from rewardtrain.models import AcquisitionRound
from tests.conftest import start_celery_worker, stop_celery_worker

from .conftest import pool_tasks, register_active_model

pytestmark = pytest.mark.integration


def test_a_round_fans_out_over_a_real_worker(transactional_db, project, trained_bert, tmp_path, settings):
    var = tmp_path / "var"
    settings.MEDIA_ROOT = var / "test-media"  # the worker reads the same storage
    settings.VERDICT_ACQUISITION_CHUNK_TASKS = 3
    register_active_model(project, trained_bert["dir"])
    pool_tasks(project)
    worker = None
    from config.celery_app import app

    try:
        with open(tmp_path / "worker.log", "w") as log:
            worker = start_celery_worker(env={"VERDICT_VAR_DIR": str(var)}, output=log)
            round_ = acquisition_round_create(project=project, strategy="dopt", size=3)  # autocommit: enqueued now
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                round_.refresh_from_db()
                if round_.status in AcquisitionRound.FINISHED:
                    break
                time.sleep(0.2)
    finally:
        app.conf.task_always_eager = True
        if worker is not None:
            stop_celery_worker(worker)
    output = (tmp_path / "worker.log").read_text()
    assert round_.status == "succeeded", f"{round_.status} {round_.error}\n{output[-3000:]}"
    assert (round_.chunks_total, round_.chunks_done, round_.picked) == (3, 3, 3)
    assert Task.objects.filter(project=project, status=Task.Status.OPEN).count() == 3
    assert round_.picks.count() == 3
