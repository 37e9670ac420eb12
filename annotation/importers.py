"""JSONL imports of tasks and already-judged pairs: streaming, batched, all-or-nothing.

One pass over the file inside one transaction. Every line is validated; while the file is clean,
rows are written in batches (bounded memory); after the first bad line nothing more is written
and validation goes on so that the user sees every problem (up to a cap) as
`file:line: field: problem`. Any problem raises ImportFailed and the transaction rolls back, so
the database is left exactly as it was. Content already present (same hash) is skipped and counted.
"""
import gzip
import json
import math
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import reset_queries, transaction

from .hashing import content_hash, messages_to_text, pair_hash, prompt_hash, task_hash
from .models import Batch, PreferencePair, Project, Prompt, Response, Task, TaskSlot

MAX_RESPONSES = 9
CHAT_ROLES = {"system", "user", "assistant"}
HH_ASSISTANT = "\n\nAssistant:"
HH_TURN = re.compile(r"\n\n(Human|Assistant):[ ]?")


class ImportFailed(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


class RowError(Exception):
    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")


@dataclass
class ImportResult:
    created: int = 0
    duplicates: int = 0
    lines: int = 0
    batch: Batch | None = None


@dataclass
class _Errors:
    filename: str
    cap: int
    shown: list[str] = field(default_factory=list)
    total: int = 0

    def add(self, message: str, line: int | None = None) -> None:
        self.total += 1
        if len(self.shown) < self.cap:
            self.shown.append(f"{self.filename}:{line}: {message}" if line else f"{self.filename}: {message}")

    def as_list(self) -> list[str]:
        more = self.total - len(self.shown)
        return self.shown + ([f"{self.filename}: … and {more} more bad lines not shown"] if more else [])


# ---------------------------------------------------------------------------------------------
# Reading lines safely: gzip detection, a cap on line length, UTF-8 and JSON errors per line.

def _open_stream(fileobj):
    head = fileobj.read(2)
    fileobj.seek(0)
    return gzip.GzipFile(fileobj=fileobj, mode="rb") if head == b"\x1f\x8b" else fileobj


def _json_lines(fileobj, errors: _Errors, max_bytes: int) -> Iterator[tuple[int, dict]]:
    """Yields (line number, object) for each parseable, non-blank line; reports the others."""
    stream = _open_stream(fileobj)
    lineno = 0
    try:
        while True:
            raw = stream.readline(max_bytes + 1)
            if not raw:
                return
            lineno += 1
            if len(raw) > max_bytes and not raw.endswith(b"\n"):
                size = len(raw) + _skip_rest_of_line(stream, max_bytes)
                errors.add(f"line is {size:,} bytes, over the {max_bytes:,}-byte limit", lineno)
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                errors.add(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1})", lineno)
                continue
            if lineno == 1:
                text = text.removeprefix("\ufeff")
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                errors.add(f"invalid JSON: {exc.msg} (column {exc.colno})", lineno)
                continue
            if not isinstance(obj, dict):
                errors.add(f"expected a JSON object, got {_type_name(obj)}", lineno)
                continue
            yield lineno, obj
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        errors.add(f"the gzip data is cut short or corrupt after line {lineno} ({exc})")


def _skip_rest_of_line(stream, chunk: int) -> int:
    skipped = 0
    while True:
        part = stream.readline(chunk)
        skipped += len(part)
        if not part or part.endswith(b"\n"):
            return skipped


def _type_name(value) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


# ---------------------------------------------------------------------------------------------
# Validation of one row; raises RowError naming the field.

def _text(value, name: str) -> str:
    if not isinstance(value, str):
        raise RowError(name, f"must be a string, got {_type_name(value)}")
    if not value.strip():
        raise RowError(name, "must not be empty")
    if "\x00" in value:
        raise RowError(name, "contains a NUL character")
    return value


def _messages(value, name: str) -> list[dict]:
    if not value:
        raise RowError(name, "must not be an empty list")
    out = []
    for i, msg in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(msg, dict):
            raise RowError(where, f"must be an object with role and content, got {_type_name(msg)}")
        role = msg.get("role")
        if role not in CHAT_ROLES:
            raise RowError(f"{where}.role", f"must be one of {', '.join(sorted(CHAT_ROLES))}, got {role!r}")
        out.append({"role": role, "content": _text(msg.get("content"), f"{where}.content")})
    return out


def _prompt(value, name: str = "prompt") -> tuple[str, list | None]:
    """(text, messages) of a prompt given as a string or a list of chat messages."""
    if value is None:
        raise RowError(name, "is required")
    if isinstance(value, list):
        messages = _messages(value, name)
        return messages_to_text(messages), messages
    if not isinstance(value, str):
        raise RowError(name, f"must be a string or a list of chat messages, got {_type_name(value)}")
    return _text(value, name), None


def _optional_object(row: dict, name: str) -> dict:
    value = row.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RowError(name, f"must be an object, got {_type_name(value)}")
    return value


def _task_row(row: dict) -> dict:
    text, messages = _prompt(row.get("prompt"))
    responses = row.get("responses")
    if responses is None:
        raise RowError("responses", "is required")
    if not isinstance(responses, list):
        raise RowError("responses", f"must be a list, got {_type_name(responses)}")
    if not 2 <= len(responses) <= MAX_RESPONSES:
        raise RowError("responses", f"needs 2 to {MAX_RESPONSES} responses, got {len(responses)}")
    items, seen = [], {}
    for i, item in enumerate(responses):
        if isinstance(item, dict):
            body = _text(item.get("text"), f"responses[{i}].text")
            model = item.get("model", "") or ""
            if not isinstance(model, str):
                raise RowError(f"responses[{i}].model", f"must be a string, got {_type_name(model)}")
        else:
            body, model = _text(item, f"responses[{i}]"), ""
        digest = content_hash(body)
        if digest in seen:
            raise RowError(f"responses[{i}]", f"is the same text as responses[{seen[digest]}]")
        seen[digest] = i
        items.append({"text": body, "model": model[:200], "hash": digest})
    external_id = row.get("id", "")
    if not isinstance(external_id, (str, int)) or isinstance(external_id, bool):
        raise RowError("id", f"must be a string, got {_type_name(external_id)}")
    return {"text": text, "messages": messages, "prompt_hash": prompt_hash(text=text, messages=messages),
            "responses": items, "external_id": str(external_id)[:255], "metadata": _optional_object(row, "metadata")}


def _completion(value, name: str) -> str:
    """A chosen/rejected completion: a string, or TRL's conversational [{"role": "assistant", ...}]."""
    if isinstance(value, list):
        messages = _messages(value, name)
        if len(messages) != 1 or messages[0]["role"] != "assistant":
            raise RowError(name, "as a list must hold exactly one assistant message")
        return messages[0]["content"]
    if value is None:
        raise RowError(name, "is required")
    return _text(value, name)


def _margin(row: dict) -> float:
    value = row.get("margin", 0.0)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RowError("margin", f"must be a finite number, got {value!r}")
    return float(value)


def _trl_row(row: dict) -> dict:
    text, messages = _prompt(row.get("prompt"))
    return _pair(text, messages, _completion(row.get("chosen"), "chosen"),
                 _completion(row.get("rejected"), "rejected"), _margin(row))


def _hh_row(row: dict) -> dict:
    chosen, rejected = _text(row.get("chosen"), "chosen"), _text(row.get("rejected"), "rejected")
    shared = os.path.commonprefix([chosen, rejected])
    cut = shared.rfind(HH_ASSISTANT)
    if cut < 0:
        raise RowError("chosen", 'chosen and rejected share no "Assistant:" turn to split the prompt at')
    prompt_text = chosen[: cut + len(HH_ASSISTANT)]
    messages = _hh_messages(prompt_text)
    if not messages:
        raise RowError("chosen", 'the shared prompt has no "Human:" turn')
    return _pair(prompt_text, messages, _final_turn(chosen, prompt_text, "chosen"),
                 _final_turn(rejected, prompt_text, "rejected"), _margin(row))


def _hh_messages(prompt_text: str) -> list[dict]:
    parts = HH_TURN.split(prompt_text)
    # parts: [preamble, role, content, role, content, ...]; the last Assistant turn is the open one.
    roles = {"Human": "user", "Assistant": "assistant"}
    turns = [{"role": roles[parts[i]], "content": parts[i + 1].strip()} for i in range(1, len(parts) - 1, 2)]
    if turns and turns[-1]["role"] == "assistant" and not turns[-1]["content"]:
        turns.pop()
    return [t for t in turns if t["content"]]


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


# ---------------------------------------------------------------------------------------------
# Batched writes. bulk_create sets primary keys on PostgreSQL and SQLite (3.35+), so the new rows'
# ids come back without another query.

def _ensure_prompts(project: Project, rows: list[dict]) -> dict[str, int]:
    wanted = {r["prompt_hash"]: r for r in rows}
    ids = dict(Prompt.objects.filter(project=project, content_hash__in=wanted).values_list("content_hash", "id"))
    missing = [Prompt(project=project, content_hash=h, text=r["text"], messages=r["messages"])
               for h, r in wanted.items() if h not in ids]
    ids.update((p.content_hash, p.pk) for p in Prompt.objects.bulk_create(missing))
    return ids


def _ensure_responses(pairs: list[tuple[int, dict]]) -> dict[tuple[int, str], int]:
    """(prompt id, response hash) -> response id, creating what is missing."""
    wanted = {(pid, item["hash"]): item for pid, item in pairs}
    rows = Response.objects.filter(prompt_id__in={pid for pid, _ in wanted}, content_hash__in={h for _, h in wanted})
    ids = {(pid, h): rid for pid, h, rid in rows.values_list("prompt_id", "content_hash", "id")}
    missing = [Response(prompt_id=pid, content_hash=h, text=item["text"], source_model=item["model"])
               for (pid, h), item in wanted.items() if (pid, h) not in ids]
    ids.update(((r.prompt_id, r.content_hash), r.pk) for r in Response.objects.bulk_create(missing))
    return ids


def _fresh(rows: list[dict], queryset, key: str, result: ImportResult) -> dict[str, dict]:
    """Rows whose hash is neither stored (`key` of `queryset`) nor earlier in the batch; counts the rest."""
    stored = set(queryset.filter(**{f"{key}__in": [r["hash"] for r in rows]}).values_list(key, flat=True))
    fresh: dict[str, dict] = {}
    for row in rows:
        if row["hash"] in stored or row["hash"] in fresh:
            result.duplicates += 1
        else:
            fresh[row["hash"]] = row
    return fresh


def _write_tasks(project: Project, batch: Batch, rows: list[dict], result: ImportResult) -> None:
    for row in rows:
        row["hash"] = task_hash(prompt_hash=row["prompt_hash"], response_hashes=[r["hash"] for r in row["responses"]])
    fresh = _fresh(rows, Task.objects.filter(project=project), "content_hash", result)
    if not fresh:
        return
    prompt_ids = _ensure_prompts(project, list(fresh.values()))
    response_ids = _ensure_responses([(prompt_ids[r["prompt_hash"]], item)
                                      for r in fresh.values() for item in r["responses"]])
    tasks = Task.objects.bulk_create([
        Task(project=project, batch=batch, prompt_id=prompt_ids[r["prompt_hash"]], content_hash=h,
             target_judgements=project.overlap, external_id=r["external_id"], metadata=r["metadata"])
        for h, r in fresh.items()
    ])
    task_ids = {t.content_hash: t.pk for t in tasks}
    TaskSlot.objects.bulk_create([
        TaskSlot(task_id=task_ids[h], position=i, response_id=response_ids[(prompt_ids[r["prompt_hash"]], item["hash"])])
        for h, r in fresh.items() for i, item in enumerate(r["responses"])
    ])
    result.created += len(fresh)


def _write_pairs(project: Project, batch: Batch, rows: list[dict], result: ImportResult, fmt: str) -> None:
    for row in rows:
        row["hash"] = pair_hash(prompt_hash=row["prompt_hash"], chosen_hash=row["chosen"]["hash"],
                                rejected_hash=row["rejected"]["hash"])
    fresh = _fresh(rows, PreferencePair.objects.filter(project=project), "dedupe_key", result)
    if not fresh:
        return
    prompt_ids = _ensure_prompts(project, list(fresh.values()))
    response_ids = _ensure_responses([(prompt_ids[r["prompt_hash"]], r[side])
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


def _run(*, project, fileobj, filename, user, batch_name, parse, write) -> ImportResult:
    errors = _Errors(filename=filename, cap=settings.VERDICT_IMPORT_MAX_ERRORS)
    result = ImportResult()
    size = settings.VERDICT_IMPORT_BATCH_SIZE
    with transaction.atomic():
        batch = Batch.objects.create(project=project, name=batch_name or filename, source=filename,
                                     created_by=user if user and user.is_authenticated else None)
        result.batch = batch
        pending: list[dict] = []
        for lineno, obj in _json_lines(fileobj, errors, settings.VERDICT_IMPORT_MAX_LINE_BYTES):
            result.lines += 1
            try:
                row = parse(obj)
            except RowError as exc:
                errors.add(str(exc), lineno)
                continue
            if errors.total:
                continue  # the import will fail: keep validating, stop writing
            row["line"] = lineno
            pending.append(row)
            if len(pending) >= size:
                write(project, batch, pending, result)
                pending = []
                reset_queries()  # with DEBUG on, Django's query log would otherwise keep every batch's SQL
        if errors.total == 0 and result.lines == 0:
            errors.add("the file holds no rows")
        if errors.total:
            raise ImportFailed(errors.as_list())
        if pending:
            write(project, batch, pending, result)
    return result


def import_tasks(*, project: Project, fileobj, filename: str, user=None, batch_name: str | None = None) -> ImportResult:
    """Tasks to annotate: {"prompt": str | messages, "responses": [str | {"text", "model"}], "id"?, "metadata"?}."""
    return _run(project=project, fileobj=fileobj, filename=filename, user=user, batch_name=batch_name,
                parse=_task_row, write=_write_tasks)


def import_pairs(*, project: Project, fileobj, filename: str, fmt: str = "trl", user=None,
                 batch_name: str | None = None) -> ImportResult:
    """Judged pairs: TRL's prompt/chosen/rejected(/margin), or HH-RLHF chosen/rejected transcripts."""
    parsers = {"trl": _trl_row, "hh": _hh_row}
    if fmt not in parsers:
        raise ValueError(f"Unknown pair format {fmt!r}; use trl or hh.")

    def write(project, batch, rows, result):
        _write_pairs(project, batch, rows, result, fmt)

    return _run(project=project, fileobj=fileobj, filename=filename, user=user, batch_name=batch_name,
                parse=parsers[fmt], write=write)
