"""Import of already-judged pairs from JSONL(.gz): TRL prompt/chosen/rejected(/margin) or HH-RLHF transcripts."""
import math
import os

from annotation.hashing import content_hash, pair_hash, prompt_hash
from annotation.hh import HH_ASSISTANT, HH_TURN, hh_messages
from annotation.models import Batch, PreferencePair, Project

from .common import (ImportResult, RowError, import_run, messages_field, prompt_field, prompts_ensure,
                     responses_ensure, rows_fresh, text_field)


def _completion(value, name: str) -> str:
    """A chosen/rejected completion: a string, or TRL's conversational [{"role": "assistant", ...}]."""
    if isinstance(value, list):
        messages = messages_field(value, name)
        if len(messages) != 1 or messages[0]["role"] != "assistant":
            raise RowError(name, "as a list must hold exactly one assistant message")
        return messages[0]["content"]
    if value is None:
        raise RowError(name, "is required")
    return text_field(value, name)


def _margin(row: dict) -> float:
    value = row.get("margin", 0.0)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RowError("margin", f"must be a finite number, got {value!r}")
    return float(value)


def _trl_row(row: dict) -> dict:
    text, messages = prompt_field(row.get("prompt"))
    return _pair(text, messages, _completion(row.get("chosen"), "chosen"),
                 _completion(row.get("rejected"), "rejected"), _margin(row))


def _hh_row(row: dict) -> dict:
    chosen, rejected = text_field(row.get("chosen"), "chosen"), text_field(row.get("rejected"), "rejected")
    shared = os.path.commonprefix([chosen, rejected])
    cut = shared.rfind(HH_ASSISTANT)
    if cut < 0:
        raise RowError("chosen", 'chosen and rejected share no "Assistant:" turn to split the prompt at')
    prompt_text = chosen[: cut + len(HH_ASSISTANT)]
    messages = hh_messages(prompt_text)
    if not messages:
        raise RowError("chosen", 'the shared prompt has no "Human:" turn')
    return _pair(prompt_text, messages, _final_turn(chosen, prompt_text, "chosen"),
                 _final_turn(rejected, prompt_text, "rejected"), _margin(row))


def _final_turn(transcript: str, prompt_text: str, name: str) -> str:
    answer = transcript[len(prompt_text):].strip()
    if not answer:
        raise RowError(name, "the final Assistant turn is empty")
    if HH_TURN.search("\n\n" + answer):
        raise RowError(name, "has more turns after the final Assistant turn")
    return answer


def _pair(text, messages, chosen, rejected, margin) -> dict:
    c_hash, r_hash = content_hash(chosen), content_hash(rejected)
    if c_hash == r_hash:
        raise RowError("rejected", "is the same text as chosen")
    return {"text": text, "messages": messages, "prompt_hash": prompt_hash(text=text, messages=messages),
            "chosen": {"text": chosen, "hash": c_hash, "model": ""},
            "rejected": {"text": rejected, "hash": r_hash, "model": ""}, "margin": margin}


def _write_pairs(project: Project, batch: Batch, rows: list[dict], result: ImportResult, fmt: str) -> None:
    for row in rows:
        row["hash"] = pair_hash(prompt_hash=row["prompt_hash"], chosen_hash=row["chosen"]["hash"],
                                rejected_hash=row["rejected"]["hash"])
    fresh = rows_fresh(rows, PreferencePair.objects.filter(project=project), "dedupe_key", result)
    if not fresh:
        return
    prompt_ids = prompts_ensure(project, list(fresh.values()))
    response_ids = responses_ensure([(prompt_ids[r["prompt_hash"]], r[side])
                                      for r in fresh.values() for side in ("chosen", "rejected")])
    pairs = []
    for h, r in fresh.items():
        pid = prompt_ids[r["prompt_hash"]]
        pairs.append(PreferencePair(
            project=project, prompt_id=pid, chosen_id=response_ids[(pid, r["chosen"]["hash"])],
            rejected_id=response_ids[(pid, r["rejected"]["hash"])], margin=r["margin"],
            source=PreferencePair.Source.IMPORTED, batch=batch, dedupe_key=h,
            provenance={"file": batch.source, "line": r["line"], "format": fmt},
        ))
    PreferencePair.objects.bulk_create(pairs)
    result.created += len(pairs)


def pairs_import(*, project: Project, fileobj, filename: str, fmt: str = "trl", user=None,
                 batch_name: str | None = None, progress=None) -> ImportResult:
    """Judged pairs: TRL's prompt/chosen/rejected(/margin), or HH-RLHF chosen/rejected transcripts."""
    parsers = {"trl": _trl_row, "hh": _hh_row}
    if fmt not in parsers:
        raise ValueError(f"Unknown pair format {fmt!r}; use trl or hh.")

    def write(project, batch, rows, result):
        _write_pairs(project, batch, rows, result, fmt)

    return import_run(project=project, fileobj=fileobj, filename=filename, user=user, batch_name=batch_name,
                      parse=parsers[fmt], write=write, progress=progress)
