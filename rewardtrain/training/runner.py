"""Executes one claimed training run: export, train with the callback, checkpoints, validate, register.

Order of the end game: the model folder is uploaded to storage first, then one transaction marks
the run succeeded and creates the ModelVersion, both conditional on this delivery's claim; a
failure in between deletes the upload. So the registry never holds a half-written model.
"""
import logging
import os
import tempfile
import time

from django.db import transaction
from django.utils import timezone

from ..snapshots import exports
from ..models import TrainingRun
from . import services
from .config import config_for_worker
from .heartbeat import Heartbeat, cancel_poll_seconds
from .launch import ddp_processes, train_under_torchrun
from .storage import storage_delete_dir, storage_download_dir, storage_upload_dir

log = logging.getLogger(__name__)
Status = TrainingRun.Status
TRAIN_SHARE = 0.9  # of the progress bar; validation and registration take the rest


BEFORE_FIRST_STEP = "Cancelled before the first training step."


class RunCancelled(Exception):
    """The run's cancel was requested; the message is the run's error."""

    def __init__(self, message: str = "Cancelled while training."):
        super().__init__(message)


def _stop_if_cancelled(run_id: int) -> None:
    """Asks the database, not the poll: called once at each stage before training, where a cancel
    pressed on a run that shows "running" but has no step yet must not wait for the next poll."""
    if services.training_run_cancel_requested(run_id=run_id):
        raise RunCancelled(BEFORE_FIRST_STEP)


class ClaimLost(Exception):
    """Another delivery took the run over (this worker looked dead): stop without writing."""


def _export(snapshot, split: str, path: str) -> int:
    with open(path, "wb") as out:
        return exports.export_to_file(snapshot=snapshot, fmt="full", split=split, out=out)


class _Callback:
    """Turns trainer events into metric rows, progress, heartbeats and checkpoint uploads."""

    def __init__(self, run: TrainingRun, token: str, heartbeat: Heartbeat):
        self.run, self.token, self.heartbeat = run, token, heartbeat
        self.last_poll = time.monotonic()
        self.stepped = False

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        fields = {}
        if kind == "start" and event.get("resumed_from"):
            fields["resumed_from_step"] = event["resumed_from"]
        elif kind == "step":
            self.stepped = True
            services.training_metric_record(
                run_id=self.run.pk, step=event["step"], kind="train", loss=event["loss"],
                accuracy=event["accuracy"], lr=event["lr"],
                extra={"epoch": event["epoch"], "pairs_per_second": event["pairs_per_second"]})
            fields["progress"] = TRAIN_SHARE * event["step"] / event["total_steps"]
        elif kind == "eval":
            m = event["metrics"]
            services.training_metric_record(run_id=self.run.pk, step=event["step"], kind="eval", loss=m["loss"],
                                            accuracy=m["accuracy"], extra={"ece": m["ece"], "pairs": m["pairs"]})
        elif kind == "checkpoint":
            self._upload_checkpoint(event)
        if not services.training_run_beat(run_id=self.run.pk, token=self.token, **fields):
            raise ClaimLost()
        # "start" comes once the model is loaded, before the first step: always ask then.
        self._check_cancel(now=kind == "start")

    def _check_cancel(self, now: bool = False) -> None:
        message = "Cancelled while training." if self.stepped else BEFORE_FIRST_STEP
        if self.heartbeat.cancelled.is_set():
            raise RunCancelled(message)
        if now or time.monotonic() - self.last_poll >= cancel_poll_seconds():
            self.last_poll = time.monotonic()
            if services.training_run_cancel_requested(run_id=self.run.pk):
                raise RunCancelled(message)

    def _upload_checkpoint(self, event: dict) -> None:
        # A fresh prefix per checkpoint; the row points at it only once it is complete.
        prefix = f"runs/{self.run.pk}/checkpoint-{event['step']}-{self.token[:8]}"
        storage_upload_dir(local=event["path"], prefix=prefix)
        old = TrainingRun.objects.filter(pk=self.run.pk).values_list("checkpoint_path", flat=True).first()
        if not services.training_run_beat(run_id=self.run.pk, token=self.token, checkpoint_path=prefix,
                                          checkpoint_step=event["step"]):
            storage_delete_dir(prefix=prefix)
            raise ClaimLost()
        if old and old != prefix:
            storage_delete_dir(prefix=old)


def training_run_execute(*, run_id: int, worker: str | None = None) -> str:
    """Claims and trains the run; returns what happened (for logs). Safe to call twice."""
    token = services.training_run_claim(run_id=run_id, worker=worker or services.worker_name())
    if token is None:
        status = TrainingRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
        return f"not claimed (status {status})" if status else "no such run"
    run = TrainingRun.objects.select_related("snapshot", "project").get(pk=run_id)
    heartbeat = Heartbeat(run_id=run_id, token=token)
    heartbeat.start()
    try:
        with tempfile.TemporaryDirectory(prefix=f"verdict-run-{run_id}-") as tmp:
            outcome = _train_and_register(run, token, heartbeat, tmp)
    except RunCancelled as cancelled:
        services.training_run_finish(run_id=run_id, token=token, status=Status.CANCELLED, error=str(cancelled))
        outcome = "cancelled"
    except ClaimLost:
        outcome = "claim lost to another delivery"
    except Exception as exc:
        log.exception("Training run %s failed", run_id)
        services.training_run_finish(run_id=run_id, token=token, status=Status.FAILED,
                                     error=f"{type(exc).__name__}: {exc}")
        outcome = "failed"
    finally:
        heartbeat.stop()
    return outcome


def _train_and_register(run: TrainingRun, token: str, heartbeat: Heartbeat, tmp: str) -> str:
    from rewardtrain.ml import train

    from ..registry.report import validation_report_build
    from ..registry.auto_promote import model_version_auto_promote
    from ..registry.services import model_version_register
    from .policy import training_policy_confidence

    _stop_if_cancelled(run.pk)  # cancelled between the claim and here
    snapshot = run.snapshot
    train_path, val_path = os.path.join(tmp, "train.jsonl"), os.path.join(tmp, "val.jsonl")
    if _export(snapshot, "train", train_path) == 0:
        raise ValueError(f"Snapshot v{snapshot.version} has no training rows.")
    if _export(snapshot, "val", val_path) == 0:
        # Refused when the run was created; checked again because an unvalidated model must never
        # enter the registry, and failing here costs no training time.
        raise ValueError(services.NO_VALIDATION_ROWS.format(version=snapshot.version))
    checkpoint = os.path.join(tmp, "checkpoint")
    if run.checkpoint_path:  # a run resumed here, perhaps on another host
        storage_download_dir(prefix=run.checkpoint_path, local=checkpoint)
    _stop_if_cancelled(run.pk)  # the export or download took a while
    out = os.path.join(tmp, "model")
    config = config_for_worker(config=run.config, data=train_path, eval_data=val_path, out=out,
                               checkpoint_dir=checkpoint)
    callback = _Callback(run, token, heartbeat)
    processes = ddp_processes()
    if processes > 1:
        train_under_torchrun(config, callback=callback, nproc=processes, folder=tmp, idle=callback._check_cancel)
    else:
        train(config, callback=callback)

    report = validation_report_build(project_id=run.project_id, model_dir=out, val_path=val_path,
                                     plots_prefix=f"runs/{run.pk}/report-{token[:8]}",
                                     confidence=training_policy_confidence(project_id=run.project_id))
    if not services.training_run_beat(run_id=run.pk, token=token, progress=0.95):
        raise ClaimLost()
    prefix = f"models/project-{run.project_id}/run-{run.pk}-{token[:8]}"
    storage_upload_dir(local=out, prefix=prefix)
    try:
        with transaction.atomic():
            if not services.training_run_finish(run_id=run.pk, token=token, status=Status.SUCCEEDED):
                raise ClaimLost()
            model = model_version_register(run=run, artifact_dir=prefix, report={**report, "run": run.pk,
                                                                          "snapshot": snapshot.pk})
    except BaseException:
        storage_delete_dir(prefix=prefix)
        raise
    last = TrainingRun.objects.filter(pk=run.pk).values_list("checkpoint_path", flat=True).first()
    if last:  # a finished run needs no checkpoint
        storage_delete_dir(prefix=last)
        TrainingRun.objects.filter(pk=run.pk).update(checkpoint_path="", updated_at=timezone.now())
    try:
        model_version_auto_promote(model_version=model)
    except Exception:  # the run and its model stand; a person can still promote by hand
        log.exception("Auto-promote of run %s's model failed", run.pk)
    return "succeeded"
