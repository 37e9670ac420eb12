"""The maths of quality control, with no Django: agreement, confidence intervals, tests, Bradley–Terry.

Agreement works on *units*: one (task, response pair, criterion) that several annotators labelled.
A unit's labels are counted per category (`value_counts`, units × categories), the shape the
`krippendorff` package takes, and from which raw agreement and Fleiss' κ follow directly.
Bootstrap intervals resample *tasks* (a K-way task's C(K, 2) units move together), seeded, so the
same data always gives the same interval.
"""
from collections.abc import Callable, Sequence

import krippendorff
import numpy as np
from scipy import optimize, stats

CHOICES = ("A", "B", "tie", "both_bad")  # the nominal categories; A is the response with the lower id
BOOTSTRAP_ROUNDS = 200
ELO_SCALE = 400 / np.log(10)  # Chatbot Arena's rating scale: 1000 + 400·log10(odds)


def value_counts(units: Sequence[Sequence], domain: Sequence) -> np.ndarray:
    """units × domain matrix: how many annotators gave each value to each unit."""
    index = {v: i for i, v in enumerate(domain)}
    counts = np.zeros((len(units), len(domain)), dtype=np.int64)
    for row, labels in enumerate(units):
        for label in labels:
            counts[row, index[label]] += 1
    return counts


def percent_agreement(counts: np.ndarray) -> float | None:
    """Pooled pairwise agreement: agreeing annotator pairs / all annotator pairs, over units labelled twice or more."""
    n = counts.sum(axis=1)
    pairs = (n * (n - 1)).sum()
    return float((counts * (counts - 1)).sum() / pairs) if pairs else None


def alpha(counts: np.ndarray, domain: Sequence, level: str) -> float | None:
    """Krippendorff's α (the `krippendorff` package) at `level` ("nominal" or "interval"); None when
    fewer than two units have two labels, or every label is the same value (α is undefined then)."""
    used = counts[counts.sum(axis=1) >= 2]
    if len(used) < 2 or np.count_nonzero(used.sum(axis=0)) < 2:
        return None
    present = used.sum(axis=0) > 0  # the package wants a domain without unused values for interval
    value = krippendorff.alpha(value_counts=used[:, present], value_domain=np.asarray(domain)[present],
                               level_of_measurement=level)
    return float(value) if np.isfinite(value) else None


def fleiss_kappa(counts: np.ndarray) -> float | None:
    """Fleiss' κ, defined only when every unit has the same number (≥ 2) of labels; else None.

    P̄ = mean over units of Σ c(c−1) / n(n−1);  P̄e = Σ p_k² with p_k the share of all labels in k;
    κ = (P̄ − P̄e) / (1 − P̄e).
    """
    n = counts.sum(axis=1)
    if len(n) == 0 or n[0] < 2 or (n != n[0]).any():
        return None
    n0 = int(n[0])
    p_bar = ((counts * (counts - 1)).sum(axis=1) / (n0 * (n0 - 1))).mean()
    p_e = ((counts.sum(axis=0) / counts.sum()) ** 2).sum()
    return None if p_e == 1 else float((p_bar - p_e) / (1 - p_e))


def task_blocks(task_of_unit: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of each task's run of units (units must be grouped by task)."""
    keys = np.asarray(task_of_unit)
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    lengths = np.diff(np.r_[starts, len(keys)])
    return starts, lengths


def bootstrap_ci(blocks: tuple[np.ndarray, np.ndarray], statistic: Callable[[np.ndarray], float | None], *,
                 rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> tuple[float, float] | None:
    """95 % percentile interval of `statistic(unit_indices)` over tasks resampled with replacement."""
    starts, lengths = blocks
    if len(starts) < 2:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        pick = rng.integers(0, len(starts), len(starts))
        s, l = starts[pick], lengths[pick]
        offsets = np.repeat(np.cumsum(l) - l, l)
        index = np.repeat(s, l) + (np.arange(l.sum()) - offsets)
        value = statistic(index)
        if value is not None:
            values.append(value)
    if len(values) < rounds / 2:  # mostly undefined: an interval would mislead
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float] | None:
    """Wilson score 95 % interval of a proportion; None for n = 0."""
    if n == 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def binomial_p(successes: int, n: int) -> float | None:
    """Two-sided exact binomial test against 0.5 (scipy); None for n = 0."""
    return float(stats.binomtest(successes, n, 0.5).pvalue) if n else None


def bradley_terry(wins: np.ndarray, *, ridge: float = 1e-4) -> np.ndarray:
    """Bradley–Terry log-strengths θ (mean 0) from `wins[i, j]` = times i beat j (a tie is half a win
    each way), by maximum likelihood — the logistic regression Chatbot Arena fits — with a tiny ridge
    so that a model that never lost still gets a finite strength."""
    m = wins.shape[0]

    def loss(theta):
        d = theta[:, None] - theta[None, :]
        log_p = -np.logaddexp(0, -d)  # log σ(θi − θj)
        q = 1 - np.exp(log_p)  # 1 − σ
        grad = -(wins * q).sum(axis=1) + (wins * q).sum(axis=0) + ridge * theta
        return -(wins * log_p).sum() + ridge / 2 * theta @ theta, grad

    theta = optimize.minimize(loss, np.zeros(m), jac=True, method="L-BFGS-B").x
    return theta - theta.mean()


def leaderboard(outcomes: dict[tuple[int, int], list[float]], m: int, *, rounds: int = 100,
                seed: int = 0) -> dict:
    """Strengths, bootstrap intervals and win rates from `outcomes[(i, j)] = [i wins, j wins, ties]`
    (i < j, indices into m models). Bootstrap: battles resampled with replacement (multinomial over
    the outcome cells), as Chatbot Arena does; returns θ, Elo-scale ratings, their 95 % intervals and
    the win-rate matrix (None where two models never met)."""
    cells = [(i, j, k) for (i, j) in sorted(outcomes) for k in range(3)]
    counts = np.array([outcomes[(i, j)][k] for i, j, k in cells], dtype=float)

    def wins_of(cell_counts):
        wins = np.zeros((m, m))
        for (i, j, k), c in zip(cells, cell_counts):
            if k == 0:
                wins[i, j] += c
            elif k == 1:
                wins[j, i] += c
            else:
                wins[i, j] += c / 2
                wins[j, i] += c / 2
        return wins

    wins = wins_of(counts)
    theta = bradley_terry(wins)
    games = wins + wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(games > 0, wins / games, np.nan)
    samples = []
    if counts.sum() > 0:
        rng = np.random.default_rng(seed)
        total = int(counts.sum())
        for _ in range(rounds):
            samples.append(bradley_terry(wins_of(rng.multinomial(total, counts / counts.sum()))))
    samples = np.array(samples) if samples else np.tile(theta, (1, 1))
    low, high = np.percentile(samples, [2.5, 97.5], axis=0)
    return {"theta": theta, "rating": 1000 + ELO_SCALE * theta, "rating_low": 1000 + ELO_SCALE * low,
            "rating_high": 1000 + ELO_SCALE * high, "win_rate": rate, "games": games}
