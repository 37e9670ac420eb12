"""Celery's autodiscovery imports <app>.tasks: the tasks of the app's packages are registered here."""
from .training.tasks import runs_reap_stale, snapshot_job_run, snapshot_jobs_fail_stale, train_run  # noqa: F401
