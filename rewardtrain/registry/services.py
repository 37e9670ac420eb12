"""The registry's writes: register, promote, roll back, archive; and the streamed zip download.

A project has at most one active version (a partial unique constraint). Every change takes the
project row lock first, so two promotes at once queue up instead of tripping the constraint, and
each is recorded as a ModelEvent with who and when.
"""
import logging
import posixpath
import zipfile
from collections.abc import Iterator

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max

from annotation.models import Project
from annotation.services.audit import audit_record
from annotation.services.webhooks import webhook_event

from ..monitoring.canaries import canary_scores_enqueue
from ..models import ModelEvent, ModelVersion, TrainingRun
from ..scoring.model_agreement import model_agreement_after_switch
from .selectors import model_rollback_target
from ..training.storage import storage_files

log = logging.getLogger(__name__)
Status = ModelVersion.Status
Action = ModelEvent.Action


class RegistryError(ValueError):
    """An action the version's state forbids; the message says why. Nothing was changed."""


def _lock_project(project_id: int) -> None:
    Project.objects.select_for_update().filter(pk=project_id).first()


def _user(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def model_version_register(*, run: TrainingRun, artifact_dir: str, report: dict) -> ModelVersion:
    """The next version of the run's project, as a candidate. Call inside the transaction that
    finishes the run, after the model folder is completely in storage."""
    _lock_project(run.project_id)
    version = (ModelVersion.objects.filter(project_id=run.project_id).aggregate(v=Max("version"))["v"] or 0) + 1
    model = ModelVersion.objects.create(project_id=run.project_id, version=version, run=run,
                                        artifact_dir=artifact_dir, validation_report=report)
    ModelEvent.objects.create(project_id=run.project_id, model_version=model, action=Action.REGISTER,
                              user=run.created_by)
    canary_scores_enqueue(model_version_id=model.pk)  # scored on the canary set once this commits
    return model


def _active(project_id: int) -> ModelVersion | None:
    return ModelVersion.objects.select_for_update().filter(project_id=project_id, status=Status.ACTIVE).first()


def model_version_promote(*, model_version: ModelVersion, user=None) -> ModelVersion:
    """Makes the version active; the previously active one is archived."""
    with transaction.atomic():
        _lock_project(model_version.project_id)
        model = ModelVersion.objects.select_for_update().get(pk=model_version.pk)
        if model.status == Status.ACTIVE:
            raise RegistryError(f"Version {model.version} is already the active model.")
        _switch_active(old=_active(model.project_id), new=model, action=Action.PROMOTE, user=user)
    return model


def _switch_active(*, old: ModelVersion | None, new: ModelVersion, action: str, user, detail: dict | None = None
                   ) -> None:
    # The old one first: the one-active constraint is checked at every statement.
    if old is not None:
        old.status = Status.ARCHIVED
        old.save(update_fields=["status"])
    new.status = Status.ACTIVE
    new.save(update_fields=["status"])
    ModelEvent.objects.create(project_id=new.project_id, model_version=new, action=action, previous_active=old,
                              user=_user(user), detail=detail or {})
    name = "model.promoted" if action == Action.PROMOTE else "model.rolled_back"
    previous = {"id": old.pk, "version": old.version} if old is not None else None
    audit_record(action=name, user=user, project=Project.objects.get(pk=new.project_id), target=new,
                 detail={"version": new.version, "previous_active": previous, **(detail or {})})
    webhook_event(project_id=new.project_id, event=name, data={
        "model": {"id": new.pk, "version": new.version, "run": new.run_id}, "previous_active": previous,
        "by": _user(user).get_username() if _user(user) else None})
    model_agreement_after_switch(project_id=new.project_id)  # the annotator table's "agrees with model"
    if action == Action.PROMOTE:  # by hand or automatically: the project's policy may start a round
        transaction.on_commit(lambda: _after_promote(new.pk))


def _after_promote(model_version_id: int) -> None:
    from ..active.services import acquisition_after_promote

    try:
        acquisition_after_promote(model_version_id=model_version_id)
    except Exception:  # the promotion stands whatever happens to the round
        log.exception("Acquisition after promoting model %s failed", model_version_id)


def model_version_rollback(*, project: Project, user=None) -> ModelVersion:
    """Re-activates the version that was active before the current one was promoted.

    Repeated rollbacks walk further back, one promotion at a time.
    """
    with transaction.atomic():
        _lock_project(project.pk)
        current = _active(project.pk)
        if current is None:
            raise RegistryError(f"Project “{project.name}” has no active model to roll back from.")
        target = model_rollback_target(active=current)
        if target is None:
            raise RegistryError(f"Version {current.version} was the first active model: there is nothing to "
                                "roll back to.")
        _switch_active(old=current, new=target, action=Action.ROLLBACK, user=user)
    return target


def model_version_archive(*, model_version: ModelVersion, user=None) -> ModelVersion:
    """Archives a candidate or the active version (the project then has no active model)."""
    with transaction.atomic():
        _lock_project(model_version.project_id)
        model = ModelVersion.objects.select_for_update().get(pk=model_version.pk)
        if model.status == Status.ARCHIVED:
            raise RegistryError(f"Version {model.version} is already archived.")
        was_active = model.status == Status.ACTIVE
        model.status = Status.ARCHIVED
        model.save(update_fields=["status"])
        ModelEvent.objects.create(project_id=model.project_id, model_version=model, action=Action.ARCHIVE,
                                  previous_active=model if was_active else None, user=_user(user))
        audit_record(action="model.archived", user=user, project=Project.objects.get(pk=model.project_id),
                     target=model, detail={"version": model.version, "was_active": was_active})
        if was_active:
            model_agreement_after_switch(project_id=model.project_id)
    return model


class _Sink:
    """A write-only stream: zipfile writes into it, the generator drains it between files and chunks."""

    def __init__(self):
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def model_version_zip_name(*, model_version: ModelVersion) -> str:
    return f"project{model_version.project_id}-reward-model-v{model_version.version}"


def model_version_zip_stream(*, model_version: ModelVersion, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The model folder as a zip, produced while it is sent (never held whole in memory or on disk).

    Files sit under one top folder, so unzipping gives a folder that
    ``AutoModelForSequenceClassification.from_pretrained`` loads.
    """
    root = model_version_zip_name(model_version=model_version)
    names = storage_files(prefix=model_version.artifact_dir)
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name in names:
            arcname = posixpath.join(root, posixpath.relpath(name, model_version.artifact_dir))
            with default_storage.open(name, "rb") as src, archive.open(arcname, "w", force_zip64=True) as dst:
                for data in iter(lambda: src.read(chunk), b""):
                    dst.write(data)
                    yield sink.drain()
            yield sink.drain()
    yield sink.drain()
