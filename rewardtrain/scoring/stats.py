"""Per-model, per-day statistics of every best-of-N score the service returns (ScoreDaily).

Recording must not slow the request: the scoring worker adds each answer to an in-process buffer of
running sums *after* the result has been sent (Celery's task_success signal fires once the result is
stored), and writes the buffer to the database at most every VERDICT_SCORE_STATS_FLUSH_SECONDS, one
locked read-modify-write per (model, day). A worker killed between flushes loses at most that many
seconds of statistics, never a score. BENCHMARKS.md measures the latency with recording on and off.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import ModelVersion, ScoreDaily

# Normalized rewards (z-scores) in bins of 0.1 from -8 to 8; one under- and one overflow bin around them.
BIN_LOW, BIN_HIGH, BIN_WIDTH = -8.0, 8.0, 0.1
BINS = round((BIN_HIGH - BIN_LOW) / BIN_WIDTH)
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass
class _Sums:
    count: int = 0
    sum_reward: float = 0.0
    sum_reward_sq: float = 0.0
    sum_length: float = 0.0
    sum_length_sq: float = 0.0
    sum_length_reward: float = 0.0
    min_reward: float = math.inf
    max_reward: float = -math.inf
    histogram: np.ndarray = field(default_factory=lambda: np.zeros(BINS + 2, dtype=np.int64))


_lock = threading.Lock()
_buffer: dict[tuple[int, date], _Sums] = {}
_last_flush = [0.0]


def _enabled() -> bool:
    return bool(getattr(settings, "VERDICT_SCORE_STATS", True))


def bin_counts(normalized) -> np.ndarray:
    z = np.asarray(normalized, dtype=np.float64)
    index = np.clip(np.floor((z - BIN_LOW) / BIN_WIDTH).astype(np.int64) + 1, 0, BINS + 1)
    return np.bincount(index, minlength=BINS + 2)


def score_stats_add(*, model_version_id: int, responses: list[str], rewards: list[float],
                    normalized: list[float]) -> None:
    """Adds one answer to the buffer (no database work)."""
    if not _enabled():
        return
    r = np.asarray(rewards, dtype=np.float64)
    length = np.asarray([len(t) for t in responses], dtype=np.float64)
    key = (model_version_id, timezone.now().date())
    with _lock:
        s = _buffer.setdefault(key, _Sums())
        s.count += len(r)
        s.sum_reward += float(r.sum())
        s.sum_reward_sq += float((r * r).sum())
        s.sum_length += float(length.sum())
        s.sum_length_sq += float((length * length).sum())
        s.sum_length_reward += float((length * r).sum())
        s.min_reward = min(s.min_reward, float(r.min()))
        s.max_reward = max(s.max_reward, float(r.max()))
        s.histogram += bin_counts(normalized)


def score_stats_flush(*, force: bool = False) -> int:
    """Writes the buffer if VERDICT_SCORE_STATS_FLUSH_SECONDS have passed since the last write (or
    ``force``); returns how many (model, day) rows were updated."""
    every = float(getattr(settings, "VERDICT_SCORE_STATS_FLUSH_SECONDS", 1.0))
    with _lock:
        if not _buffer or (not force and time.monotonic() - _last_flush[0] < every):
            return 0
        pending = dict(_buffer)
        _buffer.clear()
        _last_flush[0] = time.monotonic()
    for (model_version_id, day), s in pending.items():
        if not ModelVersion.objects.filter(pk=model_version_id).exists():
            continue  # deleted meanwhile
        with transaction.atomic():
            ScoreDaily.objects.get_or_create(model_version_id=model_version_id, day=day)
            row = ScoreDaily.objects.select_for_update().get(model_version_id=model_version_id, day=day)
            row.count += s.count
            row.sum_reward += s.sum_reward
            row.sum_reward_sq += s.sum_reward_sq
            row.sum_length += s.sum_length
            row.sum_length_sq += s.sum_length_sq
            row.sum_length_reward += s.sum_length_reward
            row.min_reward = s.min_reward if row.min_reward is None else min(row.min_reward, s.min_reward)
            row.max_reward = s.max_reward if row.max_reward is None else max(row.max_reward, s.max_reward)
            old = np.asarray(row.histogram or [0] * (BINS + 2), dtype=np.int64)
            row.histogram = (old + s.histogram).tolist()
            row.save()
    return len(pending)


def _quantiles(histogram: list[int]) -> dict[str, float | None]:
    """Quantiles of the normalized reward, interpolated inside the bins (under/overflow clamp to the edges)."""
    counts = np.asarray(histogram, dtype=np.float64)
    total = counts.sum()
    out = {}
    for q in QUANTILES:
        if not total:
            out[f"p{round(q * 100)}"] = None
            continue
        target = q * total
        cumulative = np.cumsum(counts)
        i = int(np.searchsorted(cumulative, target))
        before = cumulative[i - 1] if i else 0.0
        share = (target - before) / counts[i] if counts[i] else 0.0
        left = BIN_LOW + (i - 1) * BIN_WIDTH  # bin 0 is the underflow bin
        out[f"p{round(q * 100)}"] = float(min(max(left + share * BIN_WIDTH, BIN_LOW), BIN_HIGH))
    return out


def score_day_summary(row: ScoreDaily) -> dict:
    n = row.count
    mean = row.sum_reward / n if n else None
    std = math.sqrt(max(row.sum_reward_sq / n - mean * mean, 0.0)) if n else None
    corr = None
    if n > 1:
        cov = row.sum_length_reward / n - (row.sum_length / n) * mean
        var_l = row.sum_length_sq / n - (row.sum_length / n) ** 2
        var_r = row.sum_reward_sq / n - mean * mean
        if var_l > 1e-12 and var_r > 1e-12:
            corr = max(-1.0, min(1.0, cov / math.sqrt(var_l * var_r)))
    return {"day": row.day.isoformat(), "count": n, "mean": mean, "std": std, "min": row.min_reward,
            "max": row.max_reward, "length_correlation": corr, "normalized_quantiles": _quantiles(row.histogram)}


def score_stats_of(*, model_version: ModelVersion) -> list[dict]:
    """The version's days, oldest first (the selector of the stats API and of monitoring)."""
    return [score_day_summary(row) for row in ScoreDaily.objects.filter(model_version=model_version).order_by("day")]
