"""A snapshot's artifacts: rows written once as canonical JSON lines (hashed while written) and a
Parquet copy in row groups, with the stats the snapshot records; re-hashing stored artifacts."""
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq
from django.core.files.storage import default_storage

from annotation.selectors.pairs import OVERALL_NAME


PARQUET_ROW_GROUP = 10_000


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
class Written:
    jsonl_path: str
    parquet_path: str
    sha256: str = ""
    parquet_sha256: str = ""
    stats: dict = field(default_factory=dict)


def artifacts_write(rows: Iterable[dict], folder: str, stats: dict) -> Written:
    out = Written(jsonl_path=os.path.join(folder, "snapshot.jsonl"),
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
            criterion = row["criterion"] or OVERALL_NAME
            by_criterion[criterion] = by_criterion.get(criterion, 0) + 1
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
                 "dropped_no_majority": stats.get("dropped_no_majority", 0),
                 **({"adjudicated": stats["adjudicated"]} if "adjudicated" in stats else {}),  # comparisons a verdict decided
                 # checked before a stored artifact is served (snapshots.exports.artifact_chunks)
                 "bytes": {"jsonl": os.path.getsize(out.jsonl_path), "parquet": os.path.getsize(out.parquet_path)}}
    return out


def file_sha256(path_or_file) -> str:
    digest = hashlib.sha256()
    handle = open(path_or_file, "rb") if isinstance(path_or_file, str) else path_or_file
    with handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stored_sha256(fieldfile) -> str | None:
    """The sha256 of an artifact in storage; None when it is missing or unreadable."""
    try:
        return file_sha256(default_storage.open(fieldfile.name, "rb"))
    except (FileNotFoundError, OSError):
        return None
