"""Dataset snapshots: freeze a project's preference pairs into a versioned, hashed, immutable artifact.

A snapshot is cut in one streaming pass: the database returns the selected pairs ordered by
(prompt hash, criterion, unordered response pair, pair id), so all votes on one comparison arrive
together (aggregation.py). Each group of votes is aggregated and written as canonical JSON lines
(sorted keys, no creation timestamps) to a temporary file while it is hashed, plus a Parquet copy
written in row groups (artifacts.py). Memory stays bounded by one vote group and one Parquet row
group, whatever the project size.

The same filters over the same data therefore produce byte-identical JSONL and the same sha256.

This module holds the services: snapshot_cut (user input -> filters -> snapshot, the one path the
API, the page and the create_snapshot command take), snapshot_create, snapshot_verify and
snapshot_get (the one lookup).
"""
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max

from annotation.models import Project, Webhook
from annotation.services.webhooks import webhook_event
from annotation.pii.services import snapshot_scrubber
from rewardtrain.models import DatasetSnapshot

from .aggregation import snapshot_rows
from .artifacts import Written, artifacts_write, stored_sha256
from .filters import SnapshotError, SnapshotFilters, filters_build

Aggregation = DatasetSnapshot.Aggregation


def snapshot_cut(*, project: Project, criteria: Iterable[str] | None = None, sources: Iterable[str] = (),
                 since: date | None = None, until: date | None = None, batch_ids: Iterable[int] = (),
                 min_agreement: float | None = None, exclude_gold: bool = False,
                 exclude_annotators: Iterable[int | str] = (), aggregation: str = Aggregation.EVERY,
                 seed: int = 0, val_fraction: float = 0.1, user=None) -> DatasetSnapshot:
    """The next snapshot from filters as users give them (see filters_build); SnapshotError says what is wrong."""
    filters = filters_build(project=project, criteria=criteria, sources=sources, since=since, until=until,
                            batch_ids=batch_ids, min_agreement=min_agreement, exclude_gold=exclude_gold,
                            exclude_annotators=exclude_annotators)
    return snapshot_create(project=project, filters=filters, aggregation=aggregation, seed=seed,
                           val_fraction=val_fraction, user=user)


def snapshot_create(*, project: Project, filters: SnapshotFilters, aggregation: str = Aggregation.EVERY,
                    seed: int = 0, val_fraction: float = 0.1, user=None) -> DatasetSnapshot:
    """Freezes the selected pairs as the project's next snapshot version."""
    if aggregation not in Aggregation.values:
        raise SnapshotError(f"Unknown aggregation {aggregation!r}; use {', '.join(Aggregation.values)}.")
    if not 0 <= val_fraction < 1:
        raise SnapshotError("The validation fraction must be at least 0 and below 1.")
    drop_stats: dict = {}
    # The project's PII policy: mask-export masks every row here, so every artifact and export format is masked.
    scrubber = snapshot_scrubber(project=project)
    rows = scrubber.rows(snapshot_rows(project=project, filters=filters, aggregation=aggregation, seed=seed,
                                       val_fraction=val_fraction, stats=drop_stats))
    with tempfile.TemporaryDirectory(prefix="verdict-snapshot-") as folder:
        written = artifacts_write(rows, folder, drop_stats)
        _refuse_empty(written.stats)
        written.stats["pii"] = scrubber.stats()
        written.stats["warnings"] = _split_warnings(written.stats, val_fraction=val_fraction)
        return _snapshot_store(project=project, written=written, filters=filters, aggregation=aggregation,
                               seed=seed, val_fraction=val_fraction, user=user)


def _refuse_empty(stats: dict) -> None:
    """No snapshot (and no version used up) when the filters leave no rows."""
    if stats["rows"]["train"] + stats["rows"]["val"]:
        return
    dropped = stats["dropped_below_agreement"] + stats["dropped_no_majority"]
    why = (f" ({dropped} pair(s) were dropped by the minimum agreement or had no majority)" if dropped else "")
    raise empty_selection(why=why)


def empty_selection(*, why: str = "") -> SnapshotError:
    """The refusal of filters that leave nothing to cut (here, and when a snapshot job is queued)."""
    return SnapshotError(f"The filters select no pairs{why}: no snapshot was cut and no version was used. "
                         f"Widen the filters (criteria, dates, batches, sources, minimum agreement).")


def _split_warnings(stats: dict, *, val_fraction: float) -> list[str]:
    """What a user must see about the split: a side left empty by a split they asked for."""
    rows, prompts = stats["rows"], stats["prompts"]
    total = prompts["train"] + prompts["val"]
    if val_fraction > 0 and not rows["val"]:
        return [f"No validation rows: all {total} prompt(s) fell in train (validation fraction {val_fraction}). "
                f"Cut again with more prompts, another seed or a larger validation fraction."]
    if not rows["train"]:
        return [f"No training rows: all {total} prompt(s) fell in validation (validation fraction {val_fraction})."]
    return []


def _snapshot_store(*, project, written: Written, filters, aggregation, seed, val_fraction, user):
    saved: list[str] = []
    try:
        with transaction.atomic():
            # The project row lock serialises version numbers; the unique constraint backs it up.
            Project.objects.select_for_update().filter(pk=project.pk).first()
            version = (DatasetSnapshot.objects.filter(project=project).aggregate(v=Max("version"))["v"] or 0) + 1
            stem = f"snapshots/project-{project.pk}/v{version}-{written.sha256[:12]}"
            with open(written.jsonl_path, "rb") as handle:
                saved.append(default_storage.save(f"{stem}.jsonl", File(handle)))
            with open(written.parquet_path, "rb") as handle:
                saved.append(default_storage.save(f"{stem}.parquet", File(handle)))
            snapshot = DatasetSnapshot(
                project=project, version=version, filters=filters.as_json(), aggregation=aggregation,
                split_seed=seed, val_fraction=val_fraction, train_rows=written.stats["rows"]["train"],
                val_rows=written.stats["rows"]["val"], sha256=written.sha256,
                parquet_sha256=written.parquet_sha256, stats=written.stats,
                created_by=user if user is not None and user.is_authenticated else None,
            )
            snapshot.artifact.name, snapshot.artifact_parquet.name = saved
            snapshot.save()
            webhook_event(project_id=project.pk, event=Webhook.Event.SNAPSHOT_READY, data={"snapshot": {
                "id": snapshot.pk, "version": version, "train_rows": snapshot.train_rows, "val_rows": snapshot.val_rows,
                "sha256": snapshot.sha256, "pii": written.stats.get("pii")}})
            return snapshot
    except (IntegrityError, OSError):
        for name in saved:
            default_storage.delete(name)
        raise


@dataclass
class IntegrityReport:
    ok: bool
    sha256: str
    actual_sha256: str | None
    parquet_ok: bool | None
    actual_parquet_sha256: str | None
    message: str


def snapshot_verify(*, snapshot: DatasetSnapshot) -> IntegrityReport:
    """Re-hashes the stored artifacts and compares them with the hashes recorded at creation."""
    actual = stored_sha256(snapshot.artifact)
    actual_parquet = stored_sha256(snapshot.artifact_parquet) if snapshot.artifact_parquet else None
    parquet_ok = (actual_parquet == snapshot.parquet_sha256) if snapshot.parquet_sha256 else None
    ok = actual == snapshot.sha256 and parquet_ok is not False
    if actual is None:
        message = "The JSONL artifact is missing from storage."
    elif actual != snapshot.sha256:
        message = "The JSONL artifact does not match its recorded sha256: it was changed after creation."
    elif parquet_ok is False:
        message = "The Parquet artifact is missing or does not match its recorded sha256."
    else:
        message = "The stored artifacts match their recorded sha256."
    return IntegrityReport(ok=ok, sha256=snapshot.sha256, actual_sha256=actual, parquet_ok=parquet_ok,
                           actual_parquet_sha256=actual_parquet, message=message)


def snapshot_get(*, snapshot_id=None, project: Project | None = None, version: int | None = None) -> DatasetSnapshot:
    """The snapshot (with its project) by global id, or by `version` within `project`; only within
    `project` when given; DatasetSnapshot.DoesNotExist otherwise."""
    snapshots = DatasetSnapshot.objects.select_related("project")
    if project is not None:
        snapshots = snapshots.filter(project=project)
    if version is not None:
        if project is None:
            raise ValueError("A snapshot version is numbered within a project: give the project too.")
        return snapshots.get(version=version)
    return snapshots.get(pk=snapshot_id)


def snapshot_list(*, project: Project):
    """The project's snapshots, newest first (the model's ordering), with who cut them."""
    return DatasetSnapshot.objects.filter(project=project).select_related("created_by")
