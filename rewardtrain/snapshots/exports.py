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
"""
import json
from collections.abc import Iterator
from itertools import groupby

from django.core.files.storage import default_storage
from django.http import StreamingHttpResponse

from annotation.hh import hh_transcript
from rewardtrain.models import DatasetSnapshot

FORMATS = ("trl", "trl-chat", "hh", "kway", "full")
SPLITS = ("train", "val", "all")
CONTENT_TYPE = "application/x-ndjson; charset=utf-8"


class ExportError(ValueError):
    pass


def artifact_rows(*, snapshot: DatasetSnapshot, split: str = "all") -> Iterator[dict]:
    if split not in SPLITS:
        raise ExportError(f"Unknown split {split!r}; use {', '.join(SPLITS)}.")
    with default_storage.open(snapshot.artifact.name, "rb") as handle:
        for line in handle:
            row = json.loads(line)
            if split == "all" or row["split"] == split:
                yield row


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


def export_lines(*, snapshot: DatasetSnapshot, fmt: str, split: str = "all") -> Iterator[bytes]:
    """The export as JSON lines (bytes), produced lazily."""
    if fmt not in _WRITERS:
        raise ExportError(f"Unknown format {fmt!r}; use {', '.join(FORMATS)}.")
    if split not in SPLITS:
        raise ExportError(f"Unknown split {split!r}; use {', '.join(SPLITS)}.")
    return _WRITERS[fmt](artifact_rows(snapshot=snapshot, split=split))


def export_filename(*, snapshot: DatasetSnapshot, fmt: str, split: str) -> str:
    return f"project{snapshot.project_id}-snapshot-v{snapshot.version}-{fmt}-{split}.jsonl"


def export_to_file(*, snapshot: DatasetSnapshot, fmt: str, split: str, out) -> int:
    """Writes the export to a binary file object; returns the number of lines."""
    count = 0
    for line in export_lines(snapshot=snapshot, fmt=fmt, split=split):
        out.write(line)
        count += 1
    return count


def export_response(*, snapshot: DatasetSnapshot, fmt: str, split: str) -> StreamingHttpResponse:
    """A download of the snapshot in `fmt`, streamed (constant memory for any size); the API and the page use it."""
    response = StreamingHttpResponse(export_lines(snapshot=snapshot, fmt=fmt, split=split), content_type=CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{export_filename(snapshot=snapshot, fmt=fmt, split=split)}"'
    return response
