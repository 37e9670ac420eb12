"""Dataset snapshots: freeze a project's preference pairs into a versioned, hashed, immutable artifact.

A snapshot is cut in one streaming pass: the database returns the selected pairs ordered by
(prompt hash, criterion, unordered response pair, pair id), so all votes on one comparison arrive
together. Each group of votes is aggregated and written as canonical JSON lines (sorted keys, no
creation timestamps) to a temporary file while it is hashed, plus a Parquet copy written in row
groups. Memory stays bounded by one vote group and one Parquet row group, whatever the project size.

The same filters over the same data therefore produce byte-identical JSONL and the same sha256.
"""
import hashlib
import hmac
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.db.models.functions import Greatest, Least

from annotation.models import Batch, Judgement, PreferencePair, Project
from annotation.parsing import ascii_int

from .models import DatasetSnapshot

Aggregation = DatasetSnapshot.Aggregation
OVERALL = ""  # the criterion value of the overall preference; users type "overall"
PARQUET_ROW_GROUP = 10_000
ITERATOR_CHUNK = 2_000
# Reliability of a vote whose annotator has answered no gold tasks (and of imported votes):
# the mean of a uniform prior, so unknown voters neither dominate nor vanish.
PRIOR_RELIABILITY = 0.5


class SnapshotError(ValueError):
    """Bad snapshot input (unknown criterion, batch of another project, ...); the message says which."""


@dataclass(frozen=True)
class SnapshotFilters:
    criteria: tuple[str, ...] = (OVERALL,)  # empty tuple: every criterion (users ask with "*")
    sources: tuple[str, ...] = ()  # empty: human and imported
    since: date | None = None  # inclusive, by the date the pair was recorded
    until: date | None = None  # inclusive
    batch_ids: tuple[int, ...] = ()
    min_agreement: float | None = None  # share of votes on the majority side of a comparison
    exclude_gold: bool = False
    exclude_annotator_ids: tuple[int, ...] = ()

    def as_json(self) -> dict:
        return {
            "criteria": sorted(self.criteria), "sources": sorted(self.sources),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "batch_ids": sorted(self.batch_ids), "min_agreement": self.min_agreement,
            "exclude_gold": self.exclude_gold, "exclude_annotator_ids": sorted(self.exclude_annotator_ids),
        }


def criterion_from_input(value: str) -> str:
    value = value.strip()
    return OVERALL if value.lower() in {"", "overall"} else value


def filters_build(*, project: Project, criteria: Iterable[str] | None = None, sources: Iterable[str] = (),
                  since: date | None = None, until: date | None = None, batch_ids: Iterable[int] = (),
                  min_agreement: float | None = None, exclude_gold: bool = False,
                  exclude_annotators: Iterable[int | str] = ()) -> SnapshotFilters:
    """Validated filters from user input; annotators may be given by id or username."""
    crit = tuple(sorted({criterion_from_input(c) for c in criteria or ["overall"]}))
    if "*" in crit:
        crit = ()
    bad_sources = set(sources) - set(PreferencePair.Source.values)
    if bad_sources:
        raise SnapshotError(f"Unknown source {sorted(bad_sources)[0]!r}; use human or imported.")
    if since and until and since > until:
        raise SnapshotError("The date range is empty: --since is after --until.")
    batch_ids = tuple(sorted({int(b) for b in batch_ids}))
    found = set(Batch.objects.filter(project=project, pk__in=batch_ids).values_list("pk", flat=True))
    if missing := [b for b in batch_ids if b not in found]:
        raise SnapshotError(f"No batch {missing[0]} in project “{project.name}”.")
    if min_agreement is not None and not 0 <= min_agreement <= 1:
        raise SnapshotError("Minimum agreement must be between 0 and 1.")
    return SnapshotFilters(
        criteria=crit, sources=tuple(sorted(set(sources))), since=since, until=until, batch_ids=batch_ids,
        min_agreement=min_agreement, exclude_gold=exclude_gold,
        exclude_annotator_ids=_annotator_ids(project=project, refs=exclude_annotators),
    )


def _annotator_ids(*, project: Project, refs: Iterable[int | str]) -> tuple[int, ...]:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(memberships__project=project)
    ids = set()
    for ref in refs:
        ref = str(ref).strip()
        number = ascii_int(ref)
        match = users.filter(Q(username=ref) | Q(pk=number) if number is not None else Q(username=ref)).first()
        if match is None:
            raise SnapshotError(f"No annotator {ref!r} in project “{project.name}”.")
        ids.add(match.pk)
    return tuple(sorted(ids))


def annotator_pseudonym(user_id: int | None) -> str | None:
    """Stable per installation, not reversible without SECRET_KEY: exports never carry user ids."""
    return None if user_id is None else _pseudonym(settings.SECRET_KEY, user_id)


@lru_cache(maxsize=4096)
def _pseudonym(secret: str, user_id: int) -> str:
    digest = hmac.new(secret.encode(), f"verdict-annotator:{user_id}".encode(), hashlib.sha256)
    return "a_" + digest.hexdigest()[:16]


def split_of(*, prompt_hash: str, seed: int, val_fraction: float) -> str:
    """train or val, decided by the prompt alone, so no prompt lands on both sides."""
    digest = hashlib.sha256(f"{seed}:{prompt_hash}".encode()).digest()
    return "val" if int.from_bytes(digest[:8], "big") / 2**64 < val_fraction else "train"


# ---------------------------------------------------------------------------------------------
# Reading the selected pairs, grouped by comparison.

_FIELDS = [
    "id", "prompt_id", "prompt__text", "prompt__messages", "prompt__content_hash", "chosen_id", "chosen__text",
    "rejected_id", "rejected__text", "margin", "strength", "criterion", "is_tie", "source", "weight",
    "judgement_id", "judgement__task_id", "annotator_id", "judgement__annotator_id", "judgement__display_order",
    "judgement__duration_ms", "judgement__rubric__version", "batch_id", "created_at", "provenance",
]


def pairs_selected(*, project: Project, filters: SnapshotFilters):
    qs = PreferencePair.objects.filter(project=project)
    if filters.criteria:
        qs = qs.filter(criterion__in=filters.criteria)
    if filters.sources:
        qs = qs.filter(source__in=filters.sources)
    if filters.since:
        qs = qs.filter(created_at__date__gte=filters.since)
    if filters.until:
        qs = qs.filter(created_at__date__lte=filters.until)
    if filters.batch_ids:
        qs = qs.filter(Q(batch_id__in=filters.batch_ids) | Q(judgement__task__batch_id__in=filters.batch_ids))
    if filters.exclude_gold:
        qs = qs.exclude(judgement__task__is_gold=True)
    if filters.exclude_annotator_ids:
        qs = qs.exclude(annotator_id__in=filters.exclude_annotator_ids).exclude(
            judgement__annotator_id__in=filters.exclude_annotator_ids)
    return qs


def _votes_grouped(qs) -> Iterator[list[dict]]:
    ordered = qs.annotate(lo=Least("chosen_id", "rejected_id"), hi=Greatest("chosen_id", "rejected_id")).order_by(
        "prompt__content_hash", "criterion", "lo", "hi", "id")
    group, key = [], None
    for row in ordered.values(*_FIELDS, "lo", "hi").iterator(chunk_size=ITERATOR_CHUNK):
        row_key = (row["prompt_id"], row["criterion"], row["lo"], row["hi"])
        if row_key != key and group:
            yield group
            group = []
        key = row_key
        group.append(row)
    if group:
        yield group


def annotator_reliability(*, project: Project) -> dict[int, float]:
    """Posterior mean accuracy on gold tasks, Beta(1, 1) prior: (correct + 1) / (answered + 2)."""
    rows = (Judgement.objects.filter(task__project=project, gold_correct__isnull=False)
            .values("annotator_id").annotate(n=Count("id"), ok=Count("id", filter=Q(gold_correct=True))))
    return {r["annotator_id"]: (r["ok"] + 1) / (r["n"] + 2) for r in rows}


def _direction(vote: dict) -> str:
    if vote["is_tie"]:
        return "tie"
    return "forward" if vote["chosen_id"] == vote["lo"] else "backward"


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _messages(value) -> list[dict] | None:
    if not value:
        return None
    return [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in value]


def _base_row(vote: dict, *, split: str) -> dict:
    return {
        "split": split, "prompt_id": vote["prompt_id"], "prompt": vote["prompt__text"],
        "prompt_messages": _messages(vote["prompt__messages"]), "criterion": vote["criterion"],
    }


def _vote_row(vote: dict, *, split: str, agreement: float, votes: int) -> dict:
    annotator = vote["annotator_id"] or vote["judgement__annotator_id"]
    return {
        **_base_row(vote, split=split),
        "chosen_id": vote["chosen_id"], "chosen": vote["chosen__text"],
        "rejected_id": vote["rejected_id"], "rejected": vote["rejected__text"],
        "tie": vote["is_tie"], "margin": vote["margin"], "strength": vote["strength"], "weight": vote["weight"],
        "agreement": agreement, "votes": votes, "source": vote["source"],
        "pair_id": vote["id"], "pair_ids": [vote["id"]], "judgement_id": vote["judgement_id"],
        "task_id": vote["judgement__task_id"], "annotator": annotator_pseudonym(annotator),
        "display_order": vote["judgement__display_order"] or [], "duration_ms": vote["judgement__duration_ms"],
        "rubric_version": vote["judgement__rubric__version"], "batch_id": vote["batch_id"],
        "judged_at": _iso(vote["created_at"]),
        "provenance": json.dumps(vote["provenance"] or {}, sort_keys=True, ensure_ascii=False),
    }


def _aggregate_row(group: list[dict], *, split: str, scores: dict[str, float], agreement: float) -> dict | None:
    """One row for a comparison: the side with the highest score wins; an even split is dropped."""
    total = sum(scores.values())
    best = max(scores.values())
    winners = [side for side, score in scores.items() if score == best]
    if len(winners) > 1 or total <= 0:
        return None
    side = winners[0]
    first = group[0]
    lo_text = first["chosen__text"] if first["chosen_id"] == first["lo"] else first["rejected__text"]
    hi_text = first["rejected__text"] if first["chosen_id"] == first["lo"] else first["chosen__text"]
    chosen, rejected = ((first["hi"], hi_text), (first["lo"], lo_text)) if side == "backward" else (
        (first["lo"], lo_text), (first["hi"], hi_text))
    backing = [v for v in group if _direction(v) == side]
    sources = sorted({v["source"] for v in group})
    return {
        **_base_row(first, split=split),
        "chosen_id": chosen[0], "chosen": chosen[1], "rejected_id": rejected[0], "rejected": rejected[1],
        "tie": side == "tie", "margin": round(sum(v["margin"] for v in backing) / len(backing), 6),
        "strength": None, "weight": round(best / total, 6), "agreement": agreement, "votes": len(group),
        "source": sources[0] if len(sources) == 1 else "mixed",
        "pair_id": None, "pair_ids": [v["id"] for v in group], "judgement_id": None, "task_id": None,
        "annotator": None, "display_order": [], "duration_ms": None, "rubric_version": None,
        "batch_id": first["batch_id"] if len({v["batch_id"] for v in group}) == 1 else None,
        "judged_at": _iso(max(v["created_at"] for v in group)), "provenance": "{}",
    }


def snapshot_rows(*, project: Project, filters: SnapshotFilters, aggregation: str, seed: int,
                  val_fraction: float, stats: dict | None = None) -> Iterator[dict]:
    """The snapshot's rows in their canonical order (also used by tests and the benchmark)."""
    stats = stats if stats is not None else {}
    reliability = annotator_reliability(project=project) if aggregation == Aggregation.WEIGHTED else {}
    for group in _votes_grouped(pairs_selected(project=project, filters=filters)):
        counts = {"forward": 0, "backward": 0, "tie": 0}
        for vote in group:
            counts[_direction(vote)] += 1
        agreement = round(max(counts.values()) / len(group), 6)
        if filters.min_agreement is not None and agreement < filters.min_agreement:
            stats["dropped_below_agreement"] = stats.get("dropped_below_agreement", 0) + len(group)
            continue
        split = split_of(prompt_hash=group[0]["prompt__content_hash"], seed=seed, val_fraction=val_fraction)
        if aggregation == Aggregation.EVERY:
            for vote in group:
                yield _vote_row(vote, split=split, agreement=agreement, votes=len(group))
            continue
        if aggregation == Aggregation.WEIGHTED:
            scores = {"forward": 0.0, "backward": 0.0, "tie": 0.0}
            for vote in group:
                annotator = vote["annotator_id"] or vote["judgement__annotator_id"]
                scores[_direction(vote)] += reliability.get(annotator, PRIOR_RELIABILITY) * vote["weight"]
        else:
            scores = {side: float(n) for side, n in counts.items()}
        row = _aggregate_row(group, split=split, scores=scores, agreement=agreement)
        if row is None:
            stats["dropped_no_majority"] = stats.get("dropped_no_majority", 0) + len(group)
            continue
        yield row


# ---------------------------------------------------------------------------------------------
# Writing the artifact.

PARQUET_SCHEMA = pa.schema([
    ("split", pa.string()), ("prompt_id", pa.int64()), ("prompt", pa.string()),
    ("prompt_messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ("criterion", pa.string()), ("chosen_id", pa.int64()), ("chosen", pa.string()),
    ("rejected_id", pa.int64()), ("rejected", pa.string()), ("tie", pa.bool_()), ("margin", pa.float64()),
    ("strength", pa.int64()), ("weight", pa.float64()), ("agreement", pa.float64()), ("votes", pa.int64()),
    ("source", pa.string()), ("pair_id", pa.int64()), ("pair_ids", pa.list_(pa.int64())),
    ("judgement_id", pa.int64()), ("task_id", pa.int64()), ("annotator", pa.string()),
    ("display_order", pa.list_(pa.int64())), ("duration_ms", pa.int64()), ("rubric_version", pa.int64()),
    ("batch_id", pa.int64()), ("judged_at", pa.string()), ("provenance", pa.string()),
])


def canonical_line(row: dict) -> bytes:
    return (json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


@dataclass
class _Written:
    jsonl_path: str
    parquet_path: str
    sha256: str = ""
    parquet_sha256: str = ""
    stats: dict = field(default_factory=dict)


def _write_artifacts(rows: Iterable[dict], folder: str, stats: dict) -> _Written:
    out = _Written(jsonl_path=os.path.join(folder, "snapshot.jsonl"),
                   parquet_path=os.path.join(folder, "snapshot.parquet"))
    digest = hashlib.sha256()
    counts = {"train": 0, "val": 0}
    prompts = {"train": 0, "val": 0}
    by_source: dict[str, int] = {}
    by_criterion: dict[str, int] = {}
    ties = 0
    last_prompt = None
    pending: list[dict] = []
    with open(out.jsonl_path, "wb") as jsonl, pq.ParquetWriter(out.parquet_path, PARQUET_SCHEMA) as parquet:
        for row in rows:
            line = canonical_line(row)
            digest.update(line)
            jsonl.write(line)
            counts[row["split"]] += 1
            if row["prompt_id"] != last_prompt:  # rows arrive grouped by prompt
                prompts[row["split"]] += 1
                last_prompt = row["prompt_id"]
            by_source[row["source"]] = by_source.get(row["source"], 0) + 1
            by_criterion[row["criterion"] or "overall"] = by_criterion.get(row["criterion"] or "overall", 0) + 1
            ties += row["tie"]
            pending.append(row)
            if len(pending) >= PARQUET_ROW_GROUP:
                parquet.write_table(pa.Table.from_pylist(pending, schema=PARQUET_SCHEMA))
                pending = []
        if pending or not counts["train"] + counts["val"]:
            parquet.write_table(pa.Table.from_pylist(pending, schema=PARQUET_SCHEMA))
    out.sha256 = digest.hexdigest()
    out.parquet_sha256 = file_sha256(out.parquet_path)
    out.stats = {"rows": counts, "prompts": prompts, "by_source": dict(sorted(by_source.items())),
                 "by_criterion": dict(sorted(by_criterion.items())), "ties": ties,
                 "dropped_below_agreement": stats.get("dropped_below_agreement", 0),
                 "dropped_no_majority": stats.get("dropped_no_majority", 0)}
    return out


def file_sha256(path_or_file) -> str:
    digest = hashlib.sha256()
    handle = open(path_or_file, "rb") if isinstance(path_or_file, str) else path_or_file
    with handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def snapshot_create(*, project: Project, filters: SnapshotFilters, aggregation: str = Aggregation.EVERY,
                    seed: int = 0, val_fraction: float = 0.1, user=None) -> DatasetSnapshot:
    """Freezes the selected pairs as the project's next snapshot version."""
    if aggregation not in Aggregation.values:
        raise SnapshotError(f"Unknown aggregation {aggregation!r}; use {', '.join(Aggregation.values)}.")
    if not 0 <= val_fraction < 1:
        raise SnapshotError("The validation fraction must be at least 0 and below 1.")
    drop_stats: dict = {}
    rows = snapshot_rows(project=project, filters=filters, aggregation=aggregation, seed=seed,
                         val_fraction=val_fraction, stats=drop_stats)
    with tempfile.TemporaryDirectory(prefix="verdict-snapshot-") as folder:
        written = _write_artifacts(rows, folder, drop_stats)
        return _snapshot_store(project=project, written=written, filters=filters, aggregation=aggregation,
                               seed=seed, val_fraction=val_fraction, user=user)


def _snapshot_store(*, project, written: _Written, filters, aggregation, seed, val_fraction, user):
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
    def stored_hash(fieldfile) -> str | None:
        try:
            return file_sha256(default_storage.open(fieldfile.name, "rb"))
        except (FileNotFoundError, OSError):
            return None

    actual = stored_hash(snapshot.artifact)
    actual_parquet = stored_hash(snapshot.artifact_parquet) if snapshot.artifact_parquet else None
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


def snapshot_for_id(*, snapshot_id) -> DatasetSnapshot:
    return DatasetSnapshot.objects.select_related("project").get(pk=snapshot_id)
