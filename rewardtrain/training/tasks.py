"""Thin Celery adapters for training runs: take ids, call a service, safe to run twice."""
from celery import shared_task

from .runner import run_execute
from .services import training_runs_reap_stale


@shared_task(name="rewardtrain.tasks.train_run", queue="training", acks_late=True)
def train_run(run_id: int) -> str:
    """Trains one run. A second delivery finds it claimed (fresh heartbeat) or finished and exits."""
    return run_execute(run_id=run_id)


@shared_task(name="rewardtrain.tasks.runs_reap_stale")
def runs_reap_stale() -> dict:
    """Beat, every minute: re-queues or fails runs whose worker stopped beating."""
    return training_runs_reap_stale()


@shared_task(name="rewardtrain.tasks.snapshot_job_run")
def snapshot_job_run(job_id: int) -> str:
    from .snapshot_jobs import snapshot_job_execute

    return snapshot_job_execute(job_id=job_id)


@shared_task(name="rewardtrain.tasks.snapshot_jobs_fail_stale")
def snapshot_jobs_fail_stale() -> list[int]:
    """Beat, every 10 minutes: snapshot jobs whose worker was lost are marked failed."""
    from .snapshot_jobs import snapshot_jobs_fail_stale as fail_stale

    return fail_stale()
