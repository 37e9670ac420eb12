"""Reading the JSONL files of batch scoring, one line at a time (never the whole file).

A row is ``{"prompt": str | chat, "response": str}`` or ``{"prompt", "responses": [str | {"text": ...}, ...]}``;
other keys are kept and written back. Lines are read by the importers' reader (gzip, a cap on line length,
UTF-8 and JSON checked per line), so a scoring file is refused for the same reasons and with the same
``file:line: field: problem`` messages as an import.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings

# The importers' line reader and error collector: the one place that knows how to read JSONL safely.
from annotation.services.imports.common import RowError, _Errors, _json_lines, prompt_field, text_field, type_name


@dataclass
class ScoreRow:
    line: int
    row: dict
    prompt: str  # as the model reads it (chats flattened)
    responses: list[str]
    single: bool  # the row had "response" (one), not "responses"


def _responses(row: dict) -> tuple[list[str], bool]:
    if "response" in row:
        return [text_field(row["response"], "response")], True
    if "responses" not in row:
        raise RowError("response", "missing: give \"response\" (a string) or \"responses\" (a list)")
    value = row["responses"]
    if not isinstance(value, list) or not value:
        raise RowError("responses", f"must be a non-empty list, got {type_name(value) if value != [] else 'an empty list'}")
    texts = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            item = item.get("text")
            texts.append(text_field(item, f"responses[{i}].text"))
        else:
            texts.append(text_field(item, f"responses[{i}]"))
    return texts, False


def parse_row(line: int, row: dict) -> ScoreRow:
    text = prompt_field(row.get("prompt"), "prompt")[0]
    responses, single = _responses(row)
    return ScoreRow(line=line, row=row, prompt=text, responses=responses, single=single)


class FileProblems(ValueError):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


def score_rows(fileobj, filename: str) -> Iterator[ScoreRow]:
    """The file's rows, checked; FileProblems (every bad line, up to VERDICT_IMPORT_MAX_ERRORS) at the end
    when any line was bad, so a caller that writes as it goes must check the file first (``file_check``)."""
    errors = _Errors(filename=filename, cap=settings.VERDICT_IMPORT_MAX_ERRORS)
    seen = 0
    for line, obj in _json_lines(fileobj, errors, settings.VERDICT_IMPORT_MAX_LINE_BYTES):
        try:
            parsed = parse_row(line, obj)
        except RowError as exc:
            errors.add(str(exc), line)
            continue
        seen += 1
        if not errors.total:
            yield parsed
    if not errors.total and not seen:
        errors.add("the file holds no rows")
    if errors.total:
        raise FileProblems(errors.as_list())


def file_check(fileobj, filename: str) -> dict:
    """One pass over the file: its row and response counts, or FileProblems naming every bad line."""
    rows = items = 0
    for parsed in score_rows(fileobj, filename):
        rows += 1
        items += len(parsed.responses)
    fileobj.seek(0)
    return {"rows": rows, "responses": items}
