"""Validation-report maths on per-pair rewards (no Django): baselines, ceilings, histograms, bootstrap.

Everything here works on plain arrays, one entry per validation pair, so the application can put
a new model, the active model and the baselines side by side on exactly the same rows.  As in
:mod:`rewardtrain.ml.evaluate`, a strict pair counts as right only when r(chosen) > r(rejected):
an equal score is wrong; tie pairs carry no preference and are left out of accuracies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

HISTOGRAM_BINS = 20


def pair_correct(chosen: Sequence[float], rejected: Sequence[float], ties: Sequence[bool]) -> np.ndarray:
    """Right (True) or wrong per strict pair, in row order; tie pairs are dropped."""
    chosen, rejected = np.asarray(chosen, dtype=np.float64), np.asarray(rejected, dtype=np.float64)
    strict = ~np.asarray(ties, dtype=bool)
    return (chosen > rejected)[strict]


def accuracy(correct: np.ndarray) -> float | None:
    return float(np.mean(correct)) if len(correct) else None


def longer_wins(chosen_lengths: Sequence[int], rejected_lengths: Sequence[int], ties: Sequence[bool]) -> dict:
    """The "longer response wins" baseline on the same rows (equal lengths count as wrong)."""
    correct = pair_correct(chosen_lengths, rejected_lengths, ties)
    return {"accuracy": accuracy(correct), "pairs": int(len(correct))}


def agreement_ceiling(agreement: Sequence[float | None], votes: Sequence[int | None]) -> dict | None:
    """How often one annotator's vote matches the majority, on rows judged by more than one person.

    ``agreement`` is the majority's share of a comparison's votes: the chance that a random
    annotator agrees with the majority label, which bounds what any model of that label can
    expect to match.  None when no row has overlapping judgements.
    """
    pairs = [(a, v) for a, v in zip(agreement, votes) if a is not None and v is not None and v > 1]
    if not pairs:
        return None
    values = np.array([a for a, _ in pairs], dtype=np.float64)
    return {"accuracy": float(values.mean()), "pairs": len(pairs)}


def reward_histograms(chosen: Sequence[float], rejected: Sequence[float], bins: int = HISTOGRAM_BINS) -> dict:
    """Counts of chosen and rejected rewards over one shared set of bin edges."""
    chosen, rejected = np.asarray(chosen, dtype=np.float64), np.asarray(rejected, dtype=np.float64)
    both = np.concatenate([chosen, rejected])
    if not len(both):
        return {"edges": [], "chosen": [], "rejected": []}
    low, high = float(both.min()), float(both.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    return {"edges": [float(e) for e in edges],
            "chosen": np.histogram(chosen, edges)[0].astype(int).tolist(),
            "rejected": np.histogram(rejected, edges)[0].astype(int).tolist()}


def paired_bootstrap(correct_a: Sequence[bool], correct_b: Sequence[bool], *, samples: int = 2000,
                     confidence: float = 0.95, seed: int = 0) -> dict | None:
    """Accuracy of A minus accuracy of B on the same pairs, with a percentile bootstrap interval.

    Pairs are resampled together, so the interval reflects only the rows where the models differ.
    ``p_a_better`` is the share of resamples in which A is strictly more accurate.
    """
    a, b = np.asarray(correct_a, dtype=np.float64), np.asarray(correct_b, dtype=np.float64)
    if len(a) != len(b):
        raise ValueError("both models must be scored on the same pairs")
    if not len(a):
        return None
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(a), size=(samples, len(a)))
    diffs = a[index].mean(axis=1) - b[index].mean(axis=1)
    tail = (1 - confidence) / 2
    return {"difference": float(a.mean() - b.mean()), "low": float(np.quantile(diffs, tail)),
            "high": float(np.quantile(diffs, 1 - tail)), "confidence": confidence,
            "p_a_better": float((diffs > 0).mean()), "samples": samples, "pairs": int(len(a))}


def finite_or_none(value):
    """JSON-safe: NaN and infinities become None (json.dumps would write invalid NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    return value
