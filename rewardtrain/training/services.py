"""Training runs: create, cancel, claim, heartbeat, finish and reap (the writes; runner.py trains).

Claims and every write a worker makes are conditional UPDATEs on the run row carrying the
worker's claim token, so they work the same on PostgreSQL and SQLite and two deliveries of one
run never train at once: the second finds the run running with a fresh heartbeat and leaves; a
worker whose claim was taken over (it looked dead) sees its writes match no row and stops.
"""
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotation.models import Project, Webhook
from annotation.services.webhooks import webhook_event

from ..models import DatasetSnapshot, TrainingMetric, TrainingRun
from .config import ConfigError, config_validate

log = logging.getLogger(__name__)
Status = TrainingRun.Status


NO_VALIDATION_ROWS = ("Snapshot v{version} has no validation rows: cut a snapshot with a validation fraction "
                      "above 0 (and enough prompts for both splits).")


class RunError(ValueError):
    """Bad run input (config, snapshot of another project, ...); the message says which."""


def stale_seconds() -> int:
    return int(getattr(settings, "VERDICT_TRAINING_STALE_SECONDS", 180))


def max_attempts() -> int:
    return int(getattr(settings, "VERDICT_TRAINING_MAX_ATTEMPTS", 2))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _enqueue(run_id: int) -> None:
    from ..tasks import training_run_execute

    training_run_execute.delay(run_id)


def training_run_create(*, project: Project, snapshot_id: int, config: dict | None = None, user=None,
                        trigger: str = TrainingRun.Trigger.MANUAL, trigger_reason: str = "") -> TrainingRun:
    """A queued run on one of the project's snapshots; the worker is asked once the row is committed."""
    snapshot = DatasetSnapshot.objects.filter(pk=snapshot_id, project=project).first()
    if snapshot is None:
        raise RunError(f"No snapshot {snapshot_id} in project “{project.name}”.")
    if snapshot.train_rows == 0:
        raise RunError(f"Snapshot v{snapshot.version} has no training rows.")
    if snapshot.val_rows == 0:
        # A model enters the registry only once validated: refuse now rather than fail after training.
        raise RunError(NO_VALIDATION_ROWS.format(version=snapshot.version))
    try:
        effective = config_validate(config=config or {})
    except ConfigError as exc:
        raise RunError(str(exc)) from None
    run = TrainingRun.objects.create(
        project=project, snapshot=snapshot, config=effective, trigger=trigger, trigger_reason=trigger_reason[:255],
        created_by=user if user is not None and user.is_authenticated else None)
    transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def training_run_cancel(*, run: TrainingRun) -> TrainingRun:
    """A queued run is cancelled at once; a running one stops at its next step (within seconds)."""
    now = timezone.now()
    TrainingRun.objects.filter(pk=run.pk, status=Status.QUEUED).update(
        status=Status.CANCELLED, cancel_requested=True, finished_at=now, error="Cancelled before it started.")
    TrainingRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(cancel_requested=True)
    run.refresh_from_db()
    return run


def training_run_claim(*, run_id: int, worker: str, now: datetime | None = None) -> str | None:
    """Takes the run for this delivery: queued, or running with a stale heartbeat (its worker died).

    Returns the claim token, or None when someone else holds the run or it has finished.
    """
    now = now or timezone.now()
    token = uuid.uuid4().hex
    stale = Q(heartbeat_at__lt=now - timedelta(seconds=stale_seconds())) | Q(heartbeat_at__isnull=True)
    claimed = TrainingRun.objects.filter(pk=run_id).filter(
        Q(status=Status.QUEUED, cancel_requested=False) | (Q(status=Status.RUNNING) & stale)
    ).update(status=Status.RUNNING, claim_token=token, worker=worker, heartbeat_at=now, error="",
             attempts=F("attempts") + 1, started_at=Coalesce("started_at", now))
    return token if claimed else None


def training_run_beat(*, run_id: int, token: str, **fields) -> bool:
    """Refreshes the heartbeat (and any progress fields); False when the claim is no longer ours."""
    return bool(TrainingRun.objects.filter(pk=run_id, claim_token=token, status=Status.RUNNING)
                .update(heartbeat_at=timezone.now(), **fields))


def training_run_cancel_requested(*, run_id: int) -> bool:
    return bool(TrainingRun.objects.filter(pk=run_id).values_list("cancel_requested", flat=True).first())


def training_run_finish(*, run_id: int, token: str, status: str, error: str = "") -> bool:
    fields = {"status": status, "error": error[:10_000], "finished_at": timezone.now(), "heartbeat_at": timezone.now()}
    if status == Status.SUCCEEDED:
        fields["progress"] = 1.0
    with transaction.atomic():
        done = bool(TrainingRun.objects.filter(pk=run_id, claim_token=token, status=Status.RUNNING).update(**fields))
        if done:
            _run_finished_event(run_id)
    return done


def _run_finished_event(run_id: int) -> None:
    """The run.finished webhook (succeeded, failed or cancelled), sent once the finish commits."""
    run = TrainingRun.objects.filter(pk=run_id).values("project_id", "snapshot_id", "status", "error").first()
    webhook_event(project_id=run["project_id"], event=Webhook.Event.RUN_FINISHED, data={"run": {
        "id": run_id, "status": run["status"], "snapshot": run["snapshot_id"], "error": run["error"][:1000]}})


def training_metric_record(*, run_id: int, step: int, kind: str, loss=None, accuracy=None, lr=None,
                           extra: dict | None = None) -> None:
    """One step's numbers; a resumed run repeating a step overwrites it (safe to run twice)."""
    TrainingMetric.objects.bulk_create(
        [TrainingMetric(run_id=run_id, step=step, kind=kind, loss=loss, accuracy=accuracy, lr=lr, extra=extra or {})],
        update_conflicts=True, unique_fields=["run", "kind", "step"],
        update_fields=["loss", "accuracy", "lr", "extra", "recorded_at"])


def training_runs_reap_stale(*, now: datetime | None = None) -> dict:
    """Runs whose worker stopped beating: re-queued to resume from their checkpoint, or failed.

    Runs every minute from beat. This is what bounds the time a killed worker's run looks
    "running": Redis redelivers an unacknowledged task only after its visibility timeout (an hour
    by default), and a redelivery that arrives later finds the run claimed or finished and exits.
    """
    now = now or timezone.now()
    limit = now - timedelta(seconds=stale_seconds())
    result = {"requeued": [], "failed": []}
    with transaction.atomic():
        stale = (TrainingRun.objects.select_for_update(skip_locked=True)
                 .filter(status=Status.RUNNING).filter(Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True)))
        for run in stale:
            since = timezone.localtime(run.heartbeat_at).isoformat(timespec="seconds") if run.heartbeat_at else "never"
            lost = f"worker lost: no heartbeat since {since} from {run.worker or 'an unknown worker'}"
            if run.attempts < max_attempts() and not run.cancel_requested:
                run.status, run.claim_token = Status.QUEUED, ""
                run.error = f"{lost}; re-queued (attempt {run.attempts + 1} of {max_attempts()})" + (
                    f", resuming from step {run.checkpoint_step}" if run.checkpoint_step else "")
                run.save(update_fields=["status", "claim_token", "error", "updated_at"])
                transaction.on_commit(lambda pk=run.pk: _enqueue(pk))
                result["requeued"].append(run.pk)
            else:
                run.status, run.claim_token, run.finished_at = (
                    Status.CANCELLED if run.cancel_requested else Status.FAILED), "", now
                run.error = f"{lost} (attempt {run.attempts} of {max_attempts()})."
                run.save(update_fields=["status", "claim_token", "error", "finished_at", "updated_at"])
                _run_finished_event(run.pk)
                result["failed"].append(run.pk)
            log.warning("Training run %s: %s", run.pk, run.error)
    return result
