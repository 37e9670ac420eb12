"""Export formats, streamed from a snapshot's stored JSONL artifact one line at a time.

Nothing here touches the pairs tables: an export is a pure function of the frozen artifact, so it
is reproducible and runs in constant memory (the k-way format holds one prompt's rows at a time).

Formats
- trl       TRL explicit preference: {"prompt", "chosen", "rejected", "margin"}; RewardTrainer reads it as is.
- trl-chat  TRL conversational: the same with message lists ({"role", "content"}).
- hh        Anthropic HH-RLHF style: full "\\n\\nHuman: ...\\n\\nAssistant: ..." transcripts in chosen/rejected.
- kway      one line per ranking: "ranking" holds groups of tied response texts, best first
            ("ranking_ids" the same as response ids), the format rewardtrain.ml reads.
- full      every artifact field: pseudonymous annotator, judgement id, display order, duration, rubric version;
            its prompt/chosen/rejected/margin/tie/criterion/weight keys are rewardtrain.ml's pair rows.
Ties carry no preference, so trl, trl-chat and hh leave them out; kway and full keep them.

Criteria: trl, trl-chat and hh rows carry no criterion, so a snapshot holding more than one criterion
(the overall preference plus rubric criteria) is exported in these formats one criterion at a time
(`criterion=`); without one they refuse, rather than mix conflicting preferences. Any format takes
`criterion=` to export just that criterion.

Integrity: every export reads the stored artifact through `artifact_chunks`, which checks its size
before the first byte (cheap) and its sha256 while streaming; a mismatch raises ArtifactChanged, so
a download fails instead of silently serving changed data.
"""
import hashlib
import json
from collections.abc import Iterator
from itertools import groupby

from django.core.files.storage import default_storage
from django.http import StreamingHttpResponse

from annotation.hh import hh_transcript
from annotation.models import Project
from annotation.pii.services import SnapshotScrubber, export_masks
from annotation.selectors.pairs import OVERALL_NAME, criterion_from_input
from rewardtrain.models import DatasetSnapshot

FORMATS = ("trl", "trl-chat", "hh", "kway", "full")
PAIR_FORMATS = ("trl", "trl-chat", "hh")  # rows without a criterion field
RAW_FORMATS = ("jsonl", "parquet")  # the stored artifacts themselves
SPLITS = ("train", "val", "all")
CONTENT_TYPE = "application/x-ndjson; charset=utf-8"
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
CHUNK = 1 << 16


class ExportError(ValueError):
    pass


class ArtifactChanged(ExportError):
    """The stored artifact is missing or no longer matches its recorded size or sha256."""


def snapshot_label(snapshot: DatasetSnapshot) -> str:
    return f"“{snapshot.project.name}” snapshot v{snapshot.version} (id {snapshot.pk})"


def snapshot_criteria(snapshot: DatasetSnapshot) -> list[str]:
    """The criteria the snapshot holds, as users write them ("overall" for the overall preference)."""
    held = (snapshot.stats or {}).get("by_criterion", {})
    return sorted(held, key=lambda name: (name != OVERALL_NAME, name))  # jsonb keeps no key order


def _artifact(snapshot: DatasetSnapshot, raw: str) -> tuple[str, str]:
    if raw == "parquet":
        return snapshot.artifact_parquet.name, snapshot.parquet_sha256
    return snapshot.artifact.name, snapshot.sha256


def artifact_chunks(*, snapshot: DatasetSnapshot, raw: str = "jsonl", lines: bool = False) -> Iterator[bytes]:
    """The stored artifact's bytes (lines, or 64 KiB chunks), checked: its size up front (eagerly, when
    recorded) and its sha256 as the last chunk is read. ArtifactChanged when either differs."""
    name, sha256 = _artifact(snapshot, raw)
    changed = (f"The stored {raw} artifact of {snapshot_label(snapshot)} does not match its recorded "
               f"{{what}}: it was changed after creation, so it is not served. Cut a new snapshot.")
    if not name or not default_storage.exists(name):
        raise ArtifactChanged(f"The {raw} artifact of {snapshot_label(snapshot)} is missing from storage.")
    size = (snapshot.stats or {}).get("bytes", {}).get(raw)
    if size is not None and default_storage.size(name) != size:
        raise ArtifactChanged(changed.format(what=f"size ({size} bytes)"))

    def chunks():
        digest = hashlib.sha256()
        with default_storage.open(name, "rb") as handle:
            for chunk in (handle if lines else iter(lambda: handle.read(CHUNK), b"")):
                digest.update(chunk)
                yield chunk
        if sha256 and digest.hexdigest() != sha256:
            raise ArtifactChanged(changed.format(what="sha256"))

    return chunks()


def _late_scrubber(snapshot: DatasetSnapshot):
    """A scrubber for a snapshot cut unmasked under a policy that now masks exports (the PII policy is
    retroactive: snapshots cut before the switch are masked as they stream), else None."""
    if not export_masks(project=snapshot.project, snapshot_stats=snapshot.stats):
        return None
    return SnapshotScrubber(policy=Project.PiiPolicy.MASK_EXPORT)


def artifact_rows(*, snapshot: DatasetSnapshot, split: str = "all", criterion: str | None = None) -> Iterator[dict]:
    if split not in SPLITS:
        raise ExportError(f"Unknown split {split!r}; use {', '.join(SPLITS)}.")
    stored = None if criterion is None else criterion_from_input(criterion)
    lines = artifact_chunks(snapshot=snapshot, lines=True)  # a missing or resized artifact fails here, eagerly
    scrubber = _late_scrubber(snapshot)

    def rows():
        for line in lines:
            row = json.loads(line)
            if (split == "all" or row["split"] == split) and (stored is None or row["criterion"] == stored):
                yield scrubber.row(row) if scrubber else row

    return rows()


def criterion_check(*, snapshot: DatasetSnapshot, fmt: str, criterion: str | None) -> str | None:
    """The criterion to export (as users write it), or None for all; ExportError when the choice is
    unknown, or when a format whose rows carry no criterion would mix several."""
    held = snapshot_criteria(snapshot)
    if criterion is not None and criterion.strip():
        name = criterion_from_input(criterion) or OVERALL_NAME
        if name not in held:
            raise ExportError(f"{snapshot_label(snapshot)} has no criterion {criterion.strip()!r}; "
                              f"it holds: {', '.join(held) or 'no rows'}.")
        return name
    if fmt in PAIR_FORMATS and len(held) > 1:
        raise ExportError(
            f"{snapshot_label(snapshot)} holds {len(held)} criteria ({', '.join(held)}) and {fmt} rows carry no "
            f"criterion, so they would mix conflicting preferences. Export one criterion at a time: "
            f"--criterion KEY (command) or ?criterion=KEY (API and page); kway and full keep the criterion.")
    return None


def _line(obj: dict) -> bytes:
    return (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")


def _chat_prompt(row: dict) -> list[dict]:
    return row["prompt_messages"] or [{"role": "user", "content": row["prompt"]}]


def _trl(rows) -> Iterator[bytes]:
    for row in rows:
        if not row["tie"]:
            yield _line({"prompt": row["prompt"], "chosen": row["chosen"], "rejected": row["rejected"],
                         "margin": row["margin"]})


def _trl_chat(rows) -> Iterator[bytes]:
    for row in rows:
        if not row["tie"]:
            yield _line({"prompt": _chat_prompt(row),
                         "chosen": [{"role": "assistant", "content": row["chosen"]}],
                         "rejected": [{"role": "assistant", "content": row["rejected"]}],
                         "margin": row["margin"]})


def _hh(rows) -> Iterator[bytes]:
    for row in rows:
        if not row["tie"]:
            prompt, messages = row["prompt"], row["prompt_messages"]
            yield _line({"chosen": hh_transcript(prompt=prompt, messages=messages, answer=row["chosen"]),
                         "rejected": hh_transcript(prompt=prompt, messages=messages, answer=row["rejected"])})


def ranking_from_pairs(rows: list[dict]) -> list[list[int]]:
    """Groups of response ids, best first, ordered by wins (Copeland); equal wins tie.

    For the pairs of one complete ranking this gives back exactly that ranking.
    """
    wins: dict[int, int] = {}
    for row in rows:
        wins.setdefault(row["chosen_id"], 0)
        wins.setdefault(row["rejected_id"], 0)
        if not row["tie"]:
            wins[row["chosen_id"]] += 1
    levels = sorted(set(wins.values()), reverse=True)
    return [sorted(r for r, w in wins.items() if w == level) for level in levels]


def _kway_group(rows: list[dict], *, judgement_id) -> dict:
    texts = {}
    for row in rows:
        texts[row["chosen_id"]] = row["chosen"]
        texts[row["rejected_id"]] = row["rejected"]
    first = rows[0]
    ranking = ranking_from_pairs(rows)
    return {
        "prompt": first["prompt"], "prompt_messages": first["prompt_messages"], "criterion": first["criterion"],
        "split": first["split"], "responses": [{"id": rid, "text": texts[rid]} for rid in sorted(texts)],
        "ranking": [[texts[rid] for rid in level] for level in ranking], "ranking_ids": ranking,
        "judgement_id": judgement_id, "annotator": first["annotator"],
        "display_order": first["display_order"], "source": first["source"],
        "pair_ids": sorted(pid for row in rows for pid in row["pair_ids"]),
    }


def _kway(rows) -> Iterator[bytes]:
    # Rows of one prompt and criterion are adjacent in the artifact; within them, one ranking per
    # judgement, and the judgement-less rows (imported or aggregated) form one ranking together.
    for _, prompt_rows in groupby(rows, key=lambda r: (r["prompt_id"], r["criterion"])):
        prompt_rows = list(prompt_rows)
        judged: dict[int, list[dict]] = {}
        loose: list[dict] = []
        for row in prompt_rows:
            (judged.setdefault(row["judgement_id"], []) if row["judgement_id"] else loose).append(row)
        for judgement_id in sorted(judged):
            yield _line(_kway_group(judged[judgement_id], judgement_id=judgement_id))
        if loose:
            yield _line(_kway_group(loose, judgement_id=None))


def _full(rows) -> Iterator[bytes]:
    for row in rows:
        yield _line(row)


_WRITERS = {"trl": _trl, "trl-chat": _trl_chat, "hh": _hh, "kway": _kway, "full": _full}


def export_lines(*, snapshot: DatasetSnapshot, fmt: str, split: str = "all",
                 criterion: str | None = None) -> Iterator[bytes]:
    """The export as JSON lines (bytes), produced lazily; the input is checked eagerly (ExportError)."""
    if fmt not in _WRITERS:
        raise ExportError(f"Unknown format {fmt!r}; use {', '.join(FORMATS)}.")
    if split not in SPLITS:
        raise ExportError(f"Unknown split {split!r}; use {', '.join(SPLITS)}.")
    criterion = criterion_check(snapshot=snapshot, fmt=fmt, criterion=criterion)
    return _WRITERS[fmt](artifact_rows(snapshot=snapshot, split=split, criterion=criterion))


def export_filename(*, snapshot: DatasetSnapshot, fmt: str, split: str, criterion: str | None = None) -> str:
    part = f"-{criterion_from_input(criterion) or OVERALL_NAME}" if criterion and criterion.strip() else ""
    return f"project{snapshot.project_id}-snapshot-v{snapshot.version}-{fmt}{part}-{split}.jsonl"


def export_to_file(*, snapshot: DatasetSnapshot, fmt: str, split: str, out, criterion: str | None = None) -> int:
    """Writes the export to a binary file object; returns the number of lines."""
    count = 0
    for line in export_lines(snapshot=snapshot, fmt=fmt, split=split, criterion=criterion):
        out.write(line)
        count += 1
    return count


def _attachment(response, filename: str):
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def export_response(*, snapshot: DatasetSnapshot, fmt: str, split: str,
                    criterion: str | None = None) -> StreamingHttpResponse:
    """A download of the snapshot in `fmt`, streamed (constant memory for any size); the API and the page use it.

    A changed artifact found mid-stream aborts the response, so the client sees a failed download."""
    lines = export_lines(snapshot=snapshot, fmt=fmt, split=split, criterion=criterion)
    return _attachment(StreamingHttpResponse(lines, content_type=CONTENT_TYPE),
                       export_filename(snapshot=snapshot, fmt=fmt, split=split, criterion=criterion))


def artifact_response(*, snapshot: DatasetSnapshot, raw: str, split: str = "all",
                      criterion: str | None = None) -> StreamingHttpResponse:
    """The raw jsonl or parquet artifact, streamed and checked like every export. It is the whole
    snapshot as hashed, so a split or criterion is refused (ExportError) rather than ignored."""
    if split != "all" or criterion:
        raise ExportError(f"The {raw} artifact is the whole snapshot, as hashed: split and criterion do not apply "
                          f"(filter its split and criterion columns, or use the full export with a split).")
    content_type = CONTENT_TYPE if raw == "jsonl" else PARQUET_CONTENT_TYPE
    if _late_scrubber(snapshot) is not None:
        if raw == "parquet":
            raise ExportError(
                f"{snapshot_label(snapshot)} was cut before the project's PII policy became "
                f"{snapshot.project.pii_policy}, so its stored Parquet file holds unmasked text and is not served. "
                "Download the jsonl artifact or any export format (masked as they stream), or cut a new snapshot.")
        # the stored bytes hold raw text: served masked, line by line (so neither its size nor its sha256)
        response = StreamingHttpResponse((_line(row) for row in artifact_rows(snapshot=snapshot)),
                                         content_type=content_type)
        return _attachment(response, f"project{snapshot.project_id}-snapshot-v{snapshot.version}.masked.{raw}")
    response = StreamingHttpResponse(artifact_chunks(snapshot=snapshot, raw=raw), content_type=content_type)
    if size := (snapshot.stats or {}).get("bytes", {}).get(raw):
        response["Content-Length"] = str(size)
    return _attachment(response, f"project{snapshot.project_id}-snapshot-v{snapshot.version}.{raw}")
