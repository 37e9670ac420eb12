"""Batch scoring jobs: score a JSONL file, curate it by reward, or compare two policies (A/B).

``scoring_job_create`` checks the upload(s) line by line (bad files are refused whole, nothing is
stored), stores them and queues the job on the ``scoring_batch`` queue (not ``scoring``, whose worker
answers best-of-N requests and must not wait behind a file). ``scoring_job_execute`` runs it, on a
worker or in a command, with progress.

Memory stays constant in the number of rows: the file is read line by line and scored in chunks of
VERDICT_SCORING_CHUNK_ROWS responses; what needs the whole file (top k per prompt, top p %, the
histogram's range, matching A's prompts with B's) goes through a temporary SQLite file on disk, which
sorts and groups without holding rows in memory. Top k and top p % are therefore two passes: score
into a temporary file, then select from it.
"""
from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from annotation.hashing import content_hash
from annotation.models import Project
from annotation.services.audit import audit_record

from ..models import ModelVersion, ScoringJob
from ..stale import jobs_fail_stale
from .files import FileProblems, file_check, score_rows
from .services import ScoringError, scoring_model_for

log = logging.getLogger(__name__)
Kind, Status = ScoringJob.Kind, ScoringJob.Status
CURATE_MODES = ("top_k", "threshold", "top_percent")
HISTOGRAM_BINS = 30
BOOTSTRAP_SAMPLES = 10_000
TABLE_ROWS = 100  # per-prompt A/B rows kept in the summary for the page; the download has them all

Progress = Callable[[float], None]


# --- creating a job -------------------------------------------------------------------------------

def _number(value, name: str, what: str) -> float:
    if value is None or value == "":  # an empty form field: say it is missing, not "got None"
        raise ScoringError(f"{name}: required, {what}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ScoringError(f"{name}: {what}, got {value!r}")
    if not math.isfinite(number):
        raise ScoringError(f"{name}: {what}, got {value!r}")
    return number


def curation_params(*, mode: str | None, k=None, threshold=None, percent=None) -> dict:
    """The curation rule, checked: top_k (k ≥ 1 per prompt), threshold (reward ≥ t) or top_percent (0 < p ≤ 100)."""
    if mode not in CURATE_MODES:
        raise ScoringError(f"mode: must be one of {', '.join(CURATE_MODES)}, got {mode!r}")
    if mode == "top_k":
        what = "a whole number of responses to keep per prompt (1 or more)"
        number = _number(k, "k", what)
        if number != int(number) or number < 1:
            raise ScoringError(f"k: {what}, got {k!r}")
        return {"mode": mode, "k": int(number)}
    if mode == "threshold":
        return {"mode": mode, "threshold": _number(threshold, "threshold", "a finite reward (rows at or above it are kept)")}
    what = "the share of responses to keep, above 0 and at most 100"
    number = _number(percent, "percent", what)
    if not 0 < number <= 100:
        raise ScoringError(f"percent: {what}, got {percent!r}")
    return {"mode": mode, "percent": number}


def _store(upload, label: str) -> str:
    name = get_valid_filename(os.path.basename(getattr(upload, "name", "") or f"{label}.jsonl")) or f"{label}.jsonl"
    return default_storage.save(f"scoring/inputs/{uuid.uuid4().hex}/{label}-{name}", File(upload))


def scoring_job_create(*, project: Project, kind: str, files: list, params: dict | None = None,
                       model_id: int | None = None, user=None, enqueue: bool = True) -> ScoringJob:
    """A queued job. ``files``: one upload (score, curate) or two, A then B (ab). The model is fixed now
    (the active one unless named); every line of every file is checked now (ScoringError listing the bad
    lines); only then are the files stored and the job queued (on commit)."""
    if kind not in Kind.values:
        raise ScoringError(f"kind: must be one of {', '.join(Kind.values)}, got {kind!r}")
    wanted = 2 if kind == Kind.AB else 1
    files = [f for f in files if f is not None]
    if len(files) != wanted:
        raise ScoringError("file_b: a policy A/B job takes two files, A (file) and B (file_b)" if kind == Kind.AB
                           else "file: give one JSONL file of {prompt, response} or {prompt, responses} rows")
    params = dict(params or {})
    job_params = curation_params(**params) if kind == Kind.CURATE else {}
    model = scoring_model_for(project=project, model_id=model_id)
    labels = ["a", "b"] if kind == Kind.AB else ["input"]
    counts = []
    for label, upload in zip(labels, files):
        try:
            counts.append(file_check(upload, getattr(upload, "name", label) or label))
        except FileProblems as exc:
            raise ScoringError(str(exc))
    job_params["files"] = [{"name": getattr(f, "name", l), **c} for l, f, c in zip(labels, files, counts)]
    stored = [_store(f, label) for label, f in zip(labels, files)]
    job = ScoringJob.objects.create(project=project, kind=kind, model_version=model, params=job_params, inputs=stored,
                                    created_by=user if user is not None and user.is_authenticated else None)
    if enqueue:
        def send():
            from ..tasks import scoring_job_execute as task

            task.delay(job.pk)

        transaction.on_commit(send)
    return job


# --- running a job --------------------------------------------------------------------------------

def _update(job_id: int, **fields) -> None:
    ScoringJob.objects.filter(pk=job_id).update(**fields)


def scoring_job_execute(*, job_id: int, progress: Progress | None = None) -> str:
    """Runs a queued job (a second delivery finds it taken and exits); ``progress(share)`` is also told."""
    if not ScoringJob.objects.filter(pk=job_id, status=Status.QUEUED).update(status=Status.RUNNING,
                                                                           started_at=timezone.now()):
        return "not claimed"
    job = ScoringJob.objects.select_related("model_version", "project").get(pk=job_id)
    last = [0.0]

    def report(share: float) -> None:
        share = min(max(share, 0.0), 1.0)
        if progress:
            progress(share)
        if time.monotonic() - last[0] > 0.5:
            last[0] = time.monotonic()
            _update(job_id, progress=share)

    try:
        with tempfile.TemporaryDirectory(prefix=f"scoring-job-{job_id}-") as work:
            result_path = os.path.join(work, "result.jsonl")
            run = {Kind.SCORE: _run_score, Kind.CURATE: _run_curate, Kind.AB: _run_ab}[job.kind]
            summary = run(job=job, work=work, out=result_path, progress=report)
            with open(result_path, "rb") as handle:
                stored = default_storage.save(f"scoring/results/job-{job.pk}-{job.kind}.jsonl", File(handle))
    except Exception as exc:
        if not isinstance(exc, (ScoringError, FileProblems)):
            log.exception("Scoring job %s failed", job_id)
        _update(job_id, status=Status.FAILED, error=str(exc) or type(exc).__name__, finished_at=timezone.now())
        return "failed"
    _update(job_id, status=Status.SUCCEEDED, progress=1.0, result=stored, summary=summary, finished_at=timezone.now())
    if progress:
        progress(1.0)
    return "succeeded"


def _model(version: ModelVersion):
    from .cache import loaded_model

    return loaded_model(model_version=version)


def _chunk_size() -> int:
    return int(getattr(settings, "VERDICT_SCORING_CHUNK_ROWS", 256))


def scored_rows(model, name: str, on_responses: Callable[[int], None]) -> Iterator[tuple]:
    """(ScoreRow, raw rewards (n, heads), normalized (n, heads)) for each row of the stored file ``name``,
    scored in chunks of about VERDICT_SCORING_CHUNK_ROWS responses."""
    chunk: list = []
    size = 0

    def flush():
        prompts = [r.prompt for r in chunk for _ in r.responses]
        texts = [t for r in chunk for t in r.responses]
        raw = model.score(prompts, texts)
        norm = model.normalize(raw)
        at = 0
        for r in chunk:
            n = len(r.responses)
            yield r, raw[at:at + n], norm[at:at + n]
            at += n
        on_responses(len(texts))

    with default_storage.open(name, "rb") as handle:
        for parsed in score_rows(handle, os.path.basename(name)):
            chunk.append(parsed)
            size += len(parsed.responses)
            if size >= _chunk_size():
                yield from flush()
                chunk, size = [], 0
    if chunk:
        yield from flush()


def _db(work: str) -> sqlite3.Connection:
    db = sqlite3.connect(os.path.join(work, "items.sqlite"))
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, side TEXT, prompt_key TEXT, reward REAL)")
    db.execute("CREATE TABLE prompts (prompt_key TEXT PRIMARY KEY, text TEXT)")
    return db


def _counter(job: ScoringJob, progress: Progress, share: float = 1.0):
    total = max(sum(f["responses"] for f in job.params["files"]), 1)
    done = [0]

    def add(n: int) -> None:
        done[0] += n
        progress(share * done[0] / total)

    return add


def _line(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def _floats(values) -> list[float]:
    return [float(v) for v in values]


def histogram(db: sqlite3.Connection, where: str = "1", args: tuple = (), *, edges: list[float] | None = None,
              column: str = "reward", table: str = "items") -> dict:
    """Fixed-bin counts of ``column`` over the rows matching ``where``, computed by SQLite (constant memory);
    the edges span the whole table's range unless given."""
    if edges is None:
        low, high = db.execute(f"SELECT MIN({column}), MAX({column}) FROM {table}").fetchone()
        if low is None:
            return {"edges": [0.0, 1.0], "counts": [0]}
        if high <= low:
            low, high = low - 0.5, high + 0.5
        edges = np.linspace(low, high, HISTOGRAM_BINS + 1).tolist()
    low, width, bins = edges[0], (edges[-1] - edges[0]) / (len(edges) - 1), len(edges) - 1
    counts = [0] * bins
    query = (f"SELECT MIN(MAX(CAST(({column} - ?) / ? AS INTEGER), 0), ?) AS b, COUNT(*) FROM {table} "
             f"WHERE {where} GROUP BY b")
    for b, n in db.execute(query, (low, width, bins - 1, *args)):
        counts[b] += n
    return {"edges": edges, "counts": counts}


def _stats(db: sqlite3.Connection, where: str = "1") -> dict:
    n, mean, square, low, high = db.execute(
        f"SELECT COUNT(*), AVG(reward), AVG(reward * reward), MIN(reward), MAX(reward) FROM items WHERE {where}").fetchone()
    if not n:
        return {"n": 0}
    return {"n": n, "mean": mean, "std": math.sqrt(max(square - mean * mean, 0.0)), "min": low, "max": high}


def _run_score(*, job: ScoringJob, work: str, out: str, progress: Progress) -> dict:
    """Every row written back with rewards, z-scores, p_best (several responses) and criterion rewards."""
    model = _model(job.model_version)
    db = _db(work)
    rows = 0
    with open(out, "w", encoding="utf-8") as handle:
        for parsed, raw, norm in scored_rows(model, job.inputs[0], _counter(job, progress)):
            result = dict(parsed.row, rewards=_floats(raw[:, 0]), rewards_normalized=_floats(norm[:, 0]))
            if len(parsed.responses) > 1:
                result["p_best"] = _floats(model.p_best(raw[:, 0]))
            if len(model.heads) > 1:
                result["rewards_by_criterion"] = {h: _floats(raw[:, i]) for i, h in enumerate(model.heads) if i > 0}
            handle.write(_line(result))
            db.executemany("INSERT INTO items (side, prompt_key, reward) VALUES ('', '', ?)",
                           [(float(r),) for r in raw[:, 0]])
            rows += 1
    summary = {"rows": rows, "responses": _stats(db)["n"], "reward": _stats(db), "histogram": histogram(db)}
    db.close()
    return summary


def _item(parsed, index: int, reward: float, normalized: float, criteria: dict | None) -> dict:
    row = {k: v for k, v in parsed.row.items() if k not in ("response", "responses")}
    response = parsed.row["response"] if parsed.single else parsed.row["responses"][index]
    item = dict(row, response=response, reward=reward, reward_normalized=normalized)
    if criteria:
        item["rewards_by_criterion"] = criteria
    return item


def _run_curate(*, job: ScoringJob, work: str, out: str, progress: Progress) -> dict:
    """Pass 1 scores every response into a temporary file (one line per response) and SQLite; pass 2
    selects the kept ids in SQLite and copies their lines, in file order."""
    rule = job.params
    model = _model(job.model_version)
    db = _db(work)
    scored_path = os.path.join(work, "scored.jsonl")
    with open(scored_path, "w", encoding="utf-8") as scored:
        for parsed, raw, norm in scored_rows(model, job.inputs[0], _counter(job, progress, 0.95)):
            key = content_hash(parsed.prompt)
            for i in range(len(parsed.responses)):
                criteria = ({h: float(raw[i, c]) for c, h in enumerate(model.heads) if c > 0}
                            if len(model.heads) > 1 else None)
                scored.write(_line(_item(parsed, i, float(raw[i, 0]), float(norm[i, 0]), criteria)))
                db.execute("INSERT INTO items (side, prompt_key, reward) VALUES ('', ?, ?)", (key, float(raw[i, 0])))
    total = db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    if rule["mode"] == "threshold":
        db.execute("CREATE TABLE keep AS SELECT id FROM items WHERE reward >= ?", (rule["threshold"],))
    elif rule["mode"] == "top_k":
        db.execute("CREATE TABLE keep AS SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY prompt_key "
                   "ORDER BY reward DESC, id) AS place FROM items) WHERE place <= ?", (rule["k"],))
    else:
        wanted = math.ceil(total * rule["percent"] / 100)
        db.execute("CREATE TABLE keep AS SELECT id FROM items ORDER BY reward DESC, id LIMIT ?", (wanted,))
    kept_ids = db.execute("SELECT id FROM keep ORDER BY id")
    next_id = next(kept_ids, (None,))[0]
    with open(scored_path, encoding="utf-8") as scored, open(out, "w", encoding="utf-8") as handle:
        for item_id, line in enumerate(scored, start=1):
            if item_id == next_id:
                handle.write(line)
                next_id = next(kept_ids, (None,))[0]
    kept_where = "id IN (SELECT id FROM keep)"
    everything = histogram(db)
    summary = {
        "rule": {k: v for k, v in rule.items() if k != "files"},
        "responses": total, "prompts": db.execute("SELECT COUNT(DISTINCT prompt_key) FROM items").fetchone()[0],
        "kept": _stats(db, kept_where)["n"], "reward": _stats(db), "kept_reward": _stats(db, kept_where),
        "histogram": {"edges": everything["edges"], "all": everything["counts"],
                      "kept": histogram(db, kept_where, edges=everything["edges"])["counts"]},
    }
    summary["dropped"] = total - summary["kept"]
    db.close()
    return summary


def win_rate_interval(*, wins: int, ties: int, losses: int, samples: int = BOOTSTRAP_SAMPLES,
                      seed: int = 0) -> tuple[float, float, float]:
    """B's win rate over A (a tie counts half) and its bootstrap 95 % interval over prompts. Resampling n
    prompts with replacement only changes how many wins, ties and losses there are, so drawing those
    counts from a multinomial is the same bootstrap without holding the per-prompt outcomes."""
    n = wins + ties + losses
    if n == 0:
        raise ScoringError("no prompt appears in both files, so there is nothing to compare")
    rate = (wins + 0.5 * ties) / n
    draws = np.random.default_rng(seed).multinomial(n, [wins / n, ties / n, losses / n], size=samples)
    rates = (draws[:, 0] + 0.5 * draws[:, 1]) / n
    low, high = np.percentile(rates, [2.5, 97.5])
    return rate, float(low), float(high)


def _run_ab(*, job: ScoringJob, work: str, out: str, progress: Progress) -> dict:
    """Both files scored into SQLite; prompts matched by their text (a prompt's reward is the mean over its
    responses in that file); B wins a prompt when its reward is higher."""
    model = _model(job.model_version)
    db = _db(work)
    count = _counter(job, progress, 0.95)
    for side, name in zip("AB", job.inputs):
        for parsed, raw, _ in scored_rows(model, name, count):
            key = content_hash(parsed.prompt)
            if side == "A":
                db.execute("INSERT OR IGNORE INTO prompts VALUES (?, ?)", (key, parsed.prompt))
            db.executemany("INSERT INTO items (side, prompt_key, reward) VALUES (?, ?, ?)",
                           [(side, key, float(r)) for r in raw[:, 0]])
    db.execute("CREATE INDEX items_side_key ON items (side, prompt_key)")
    per_side = ("SELECT prompt_key, MIN(id) AS first, AVG(reward) AS reward, COUNT(*) AS n FROM items "
                "WHERE side = '{}' GROUP BY prompt_key")
    db.execute(f"CREATE TABLE pairs AS SELECT a.prompt_key, a.first, a.reward AS reward_a, b.reward AS reward_b, "
               f"a.n AS n_a, b.n AS n_b, b.reward - a.reward AS difference "
               f"FROM ({per_side.format('A')}) a JOIN ({per_side.format('B')}) b ON a.prompt_key = b.prompt_key")
    prompts_a, prompts_b = (db.execute(f"SELECT COUNT(DISTINCT prompt_key) FROM items WHERE side = '{s}'").fetchone()[0]
                            for s in "AB")
    wins, ties, losses = db.execute("SELECT COALESCE(SUM(difference > 0), 0), COALESCE(SUM(difference = 0), 0), "
                                    "COALESCE(SUM(difference < 0), 0) FROM pairs").fetchone()
    rate, low, high = win_rate_interval(wins=wins, ties=ties, losses=losses)
    table = []
    with open(out, "w", encoding="utf-8") as handle:
        query = ("SELECT p.text, pairs.reward_a, pairs.reward_b, pairs.difference, pairs.n_a, pairs.n_b FROM pairs "
                 "JOIN prompts p ON p.prompt_key = pairs.prompt_key ORDER BY pairs.first")
        for text, reward_a, reward_b, difference, n_a, n_b in db.execute(query):
            winner = "B" if difference > 0 else "A" if difference < 0 else "tie"
            row = {"prompt": text, "reward_a": reward_a, "reward_b": reward_b, "difference": difference,
                   "winner": winner, "responses_a": n_a, "responses_b": n_b}
            handle.write(_line(row))
            if len(table) < TABLE_ROWS:
                table.append({**row, "prompt": text[:300]})
    compared = wins + ties + losses
    mean_difference = db.execute("SELECT AVG(difference) FROM pairs").fetchone()[0]
    summary = {
        "prompts_compared": compared, "only_in_a": prompts_a - compared, "only_in_b": prompts_b - compared,
        "wins_b": wins, "ties": ties, "wins_a": losses, "win_rate_b": rate, "ci95": [low, high],
        "bootstrap_samples": BOOTSTRAP_SAMPLES, "mean_difference": mean_difference,
        "histogram": histogram(db, column="difference", table="pairs"), "table": table,
        "reward_a": _stats(db, "side = 'A'"), "reward_b": _stats(db, "side = 'B'"),
    }
    db.close()
    return summary


def curation_rule_of(data: dict) -> dict:
    """The curation rule of a submitted form or API body (only a curate job has one)."""
    return {k: data.get(k) for k in ("mode", "k", "threshold", "percent")} if data["kind"] == "curate" else {}


def scoring_jobs_fail_stale() -> list[int]:
    """Jobs still "running" VERDICT_SCORING_JOB_STALE_SECONDS after they started lost their worker (a killed
    worker's task is not run again: the job is no longer queued): marked failed, so nobody waits forever."""
    seconds = int(getattr(settings, "VERDICT_SCORING_JOB_STALE_SECONDS", 6 * 3600))
    return jobs_fail_stale(model=ScoringJob, seconds=seconds,
                           advice="start the job again.")


# --- reading jobs -------------------------------------------------------------------------------

def scoring_jobs_recent(*, project: Project, limit: int = 20) -> list[ScoringJob]:
    return list(ScoringJob.objects.filter(project=project).select_related("model_version", "created_by")[:limit])


def scoring_job_of(*, project: Project, job_id: int) -> ScoringJob:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(ScoringJob.objects.select_related("model_version", "created_by"), project=project,
                             pk=job_id)


def scoring_job_result_open(*, job: ScoringJob, user):
    """The result file, opened for a download that the audit trail records (who took which scores)."""
    handle = default_storage.open(job.result, "rb")
    audit_record(action="scoring.downloaded", user=user, project=job.project, target=job,
                 detail={"kind": job.kind, "model_version": job.model_version_id})
    return handle


def scoring_job_result_name(*, job: ScoringJob) -> str:
    base = os.path.splitext(os.path.basename(job.params["files"][-1]["name"]))[0] or "input"
    return get_valid_filename(f"{base}.{ {'score': 'scored', 'curate': 'curated', 'ab': 'ab'}[job.kind]}.jsonl")
