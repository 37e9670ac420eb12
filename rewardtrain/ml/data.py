"""Reading preference data (JSONL or Parquet) into validated groups.

Two row shapes are accepted, and may be mixed in one file:

* a pair: ``{"prompt", "chosen", "rejected", "margin"?, "tie"?, "criterion"?, "weight"?}``.
  ``margin`` is the preference strength (bigger = clearer preference); ``tie: true`` means the
  annotator judged both responses equally good (which one is called "chosen" does not matter).
* a k-way group: ``{"prompt", "ranking", "criterion"?, "weight"?}`` where ``ranking`` lists the
  responses best first.  Each entry is a response string or a list of responses tied at that
  rank: ``{"prompt": "p", "ranking": [["a"], ["b", "c"], "d"]}`` means a > b = c > d.

Both become a :class:`Group`: one prompt, its distinct responses, and the comparisons between
them.  A k-way group yields all C(K,2) comparisons (tied ranks yield tie comparisons), each
weighted ``weight / C(K,2)`` as in InstructGPT, so a prompt counts once however many responses
it has.  Any other keys (ids, provenance) are ignored.  Every problem is reported as a
:class:`DataError` naming ``file:line: field`` -- nothing is dropped silently.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


class DataError(ValueError):
    """Bad input data; ``str()`` gives ``file:line: field 'x': problem``."""

    def __init__(self, path: str, line: int | None, field_name: str | None, problem: str):
        self.path, self.line, self.field, self.problem = path, line, field_name, problem
        where = path if line is None else f"{path}:{line}"
        what = f" field '{field_name}':" if field_name else ""
        super().__init__(f"{where}:{what} {problem}")


@dataclass
class Group:
    """One prompt with its responses and the comparisons an annotator made between them."""

    prompt: str
    responses: list[str]
    # (better, worse) indices into ``responses``; for ties the order carries no meaning.
    pairs: list[tuple[int, int]]
    ties: list[bool]
    margins: list[float]
    weight: float = 1.0  # total weight of the group, spread evenly over its pairs
    criterion: str | None = None
    source: str = ""  # "file:line", for error messages and debugging
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pair_weight(self) -> float:
        return self.weight / len(self.pairs)


def iter_records(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` from a .jsonl/.json-lines or .parquet file."""
    if not os.path.exists(path):
        raise DataError(path, None, None, "file not found")
    if os.path.isdir(path):
        raise DataError(path, None, None, "is a folder, expected a .jsonl or .parquet file")
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several unrelated types
            raise DataError(path, None, None, f"cannot read Parquet: {exc}") from None
        for number, row in enumerate(table.to_pylist(), start=1):
            yield number, row
        return
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(path, number, None, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(row, dict):
                raise DataError(path, number, None, "expected a JSON object")
            yield number, row


def _present(row: dict, name: str) -> bool:
    value = row.get(name)
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _text(row: dict, name: str, path: str, line: int) -> str:
    if not _present(row, name):
        raise DataError(path, line, name, "missing")
    value = row[name]
    if not isinstance(value, str):
        raise DataError(path, line, name, f"expected a string, got {type(value).__name__}")
    return value


def _number(row: dict, name: str, path: str, line: int, default: float) -> float:
    if not _present(row, name):
        return default
    value = row[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(path, line, name, f"expected a finite number, got {value!r}")
    return float(value)


def _criterion(row: dict, path: str, line: int) -> str | None:
    if not _present(row, "criterion") or row["criterion"] == "":
        return None
    return _text(row, "criterion", path, line)


def _weight(row: dict, path: str, line: int) -> float:
    weight = _number(row, "weight", path, line, 1.0)
    if weight <= 0:
        raise DataError(path, line, "weight", f"must be > 0, got {weight}")
    return weight


def _pair_group(row: dict, path: str, line: int) -> Group:
    prompt = _text(row, "prompt", path, line)
    chosen = _text(row, "chosen", path, line)
    rejected = _text(row, "rejected", path, line)
    tie = row.get("tie")
    if tie is None:
        tie = False
    if not isinstance(tie, bool):
        raise DataError(path, line, "tie", f"expected true or false, got {tie!r}")
    return Group(
        prompt=prompt,
        responses=[chosen, rejected],
        pairs=[(0, 1)],
        ties=[tie],
        margins=[_number(row, "margin", path, line, 0.0)],
        weight=_weight(row, path, line),
        criterion=_criterion(row, path, line),
        source=f"{path}:{line}",
    )


def _ranking_group(row: dict, path: str, line: int) -> Group:
    prompt = _text(row, "prompt", path, line)
    ranking = row["ranking"]
    if not isinstance(ranking, list):
        raise DataError(path, line, "ranking", "expected a list of responses, best first")
    responses: list[str] = []
    ranks: list[int] = []
    for rank, entry in enumerate(ranking):
        tied = entry if isinstance(entry, list) else [entry]
        if not tied or not all(isinstance(text, str) for text in tied):
            raise DataError(path, line, "ranking", f"rank {rank + 1} must be a string or a non-empty list of strings")
        for text in tied:
            if text in responses:
                raise DataError(path, line, "ranking", f"response listed twice: {text[:40]!r}")
            responses.append(text)
            ranks.append(rank)
    if len(responses) < 2:
        raise DataError(path, line, "ranking", "needs at least two responses")
    if _present(row, "margin"):
        raise DataError(path, line, "margin", "not supported on k-way groups (use pair rows)")
    pairs, ties = [], []
    for i in range(len(responses)):
        for j in range(i + 1, len(responses)):
            pairs.append((i, j))  # i was listed first, so it ranks at least as high
            ties.append(ranks[i] == ranks[j])
    return Group(
        prompt=prompt,
        responses=responses,
        pairs=pairs,
        ties=ties,
        margins=[0.0] * len(pairs),
        weight=_weight(row, path, line),
        criterion=_criterion(row, path, line),
        source=f"{path}:{line}",
    )


def load_groups(path: str) -> list[Group]:
    """Read and validate a preference file; raises :class:`DataError` on the first problem."""
    groups = []
    for line, row in iter_records(path):
        groups.append(_ranking_group(row, path, line) if "ranking" in row else _pair_group(row, path, line))
    if not groups:
        raise DataError(path, None, None, "no rows")
    return groups


def _flat_texts(value, path: str, line: int, name: str) -> list[str]:
    flat = []
    for entry in value if isinstance(value, list) else [None]:
        for item in entry if isinstance(entry, list) else [entry]:
            flat.append(item.get("text") if isinstance(item, dict) else item)
    if not flat or not all(isinstance(t, str) for t in flat):
        raise DataError(path, line, name, "expected a non-empty list of strings")
    return flat


def load_score_rows(path: str) -> list[tuple[int, dict[str, Any], list[str]]]:
    """Rows to score: ``(line, row, responses)``.

    A row has a ``prompt`` and one of ``response``, ``ranking``, ``responses`` (strings or
    ``{"text": ...}`` objects) or ``chosen``+``rejected``; the responses are returned in that
    order so the scores can be written back.
    """
    rows = []
    for line, row in iter_records(path):
        _text(row, "prompt", path, line)
        if "response" in row:
            responses = [_text(row, "response", path, line)]
        elif "ranking" in row or "responses" in row:
            # A k-way export line carries both; "ranking" holds the texts, "responses" may hold
            # {"id", "text"} objects.
            name = "ranking" if "ranking" in row else "responses"
            responses = _flat_texts(row[name], path, line, name)
        elif "chosen" in row or "rejected" in row:
            responses = [_text(row, "chosen", path, line), _text(row, "rejected", path, line)]
        else:
            raise DataError(path, line, "response", "missing (need response, responses, chosen/rejected or ranking)")
        rows.append((line, row, responses))
    if not rows:
        raise DataError(path, None, None, "no rows")
    return rows
