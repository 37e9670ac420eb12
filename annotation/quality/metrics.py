"""The maths of quality control, with no Django: agreement, confidence intervals, tests, Bradley–Terry.

Agreement works on *units*: one (task, response pair, criterion) that several annotators labelled.
A unit's labels are counted per category (`value_counts`, units × categories), the shape the
`krippendorff` package takes, and from which raw agreement and Fleiss' κ follow directly.
Bootstrap intervals resample *tasks* (a K-way task's C(K, 2) units move together), seeded, so the
same data always gives the same interval.
"""
from collections.abc import Sequence

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


class Agreement:
    """The agreement statistics as weighted sums over units, so that a bootstrap resample (a weight per
    unit: how often its task was drawn) costs one matrix–vector product instead of a recomputation.

    With weights w: raw agreement = Σ w·agreeing pairs / Σ w·pairs; Krippendorff's coincidences
    o = Σ w·O_u with O_u = (c cᵀ − diag c) / (m − 1), α = 1 − (n − 1)·Σ o δ / Σ n_c n_k δ
    (δ: 0/1 nominal, squared difference interval; n_c = Σ w·c); Fleiss' κ from P̄ = Σ w·agreeing
    pairs / Σ w·pairs (every unit has m labels) and p_k = n_c / n. At w = 1 these are the plain statistics (a test checks α against the
    `krippendorff` package)."""

    def __init__(self, counts: np.ndarray, domain: Sequence, level: str):
        counts = np.asarray(counts, dtype=float)
        m = counts.sum(axis=1)
        self.k = counts.shape[1]
        self.equal_m = len(m) > 0 and m[0] >= 2 and bool((m == m[0]).all())
        values = np.asarray(domain, dtype=float) if level == "interval" else None
        self.delta = ((values[:, None] - values[None, :]) ** 2 if level == "interval"
                      else 1.0 - np.eye(self.k))
        # Σ_ck O_u δ: a unit's observed disagreement, c δ cᵀ / (m − 1) (δ is 0 on the diagonal); the
        # coincidence matrix's margins are the label counts themselves, so they need no columns of their own.
        with np.errstate(invalid="ignore", divide="ignore"):
            observed = np.einsum("uk,kl,ul->u", counts, self.delta, counts) / np.where(m > 1, m - 1, np.inf)
        agree = (counts * (counts - 1)).sum(axis=1)
        self.features = np.column_stack([agree, m * (m - 1), m, observed, counts])

    def statistics(self, sums: np.ndarray) -> dict[str, float | None]:
        agree, pairs, labels, observed, n_c = sums[0], sums[1], sums[2], sums[3], sums[4:]
        out = {"percent_agreement": float(agree / pairs) if pairs else None}
        expected = n_c @ self.delta @ n_c
        out["alpha"] = float(1 - (labels - 1) * observed / expected) if expected > 0 else None
        kappa = None
        if self.equal_m and labels:
            p_e = ((n_c / labels) ** 2).sum()
            kappa = None if p_e == 1 else float((agree / pairs - p_e) / (1 - p_e))
        out["fleiss_kappa"] = kappa
        return out


def agreement_bootstrap(blocks: tuple[np.ndarray, np.ndarray], agreements: Sequence[Agreement], *,
                        rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> list[dict[str, tuple[float, float] | None]]:
    """95 % percentile intervals of each `Agreement`'s statistics over tasks resampled with replacement
    (seeded; the same resamples for all of them)."""
    starts, lengths = blocks
    names = ("percent_agreement", "alpha", "fleiss_kappa")
    if len(starts) < 2:
        return [dict.fromkeys(names) for _ in agreements]
    rng = np.random.default_rng(seed)
    per_task = [np.add.reduceat(a.features, starts, axis=0) for a in agreements]  # a task's units move together
    draws = [{name: [] for name in names} for _ in agreements]
    for chunk in range(0, rounds, 50):  # how often each task is drawn, 50 rounds at a time: one product each
        times = rng.multinomial(len(starts), np.full(len(starts), 1 / len(starts)), size=min(50, rounds - chunk))
        times = times.astype(float)
        for agreement, features, found in zip(agreements, per_task, draws):
            for sums in times @ features:
                for name, value in agreement.statistics(sums).items():
                    if value is not None:
                        found[name].append(value)
    return [{name: (None if len(values) < rounds / 2  # mostly undefined: an interval would mislead
                    else tuple(float(v) for v in np.percentile(values, [2.5, 97.5])))
             for name, values in found.items()} for found in draws]


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
