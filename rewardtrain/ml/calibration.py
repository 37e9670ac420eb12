"""Temperature scaling: turning reward differences into probabilities that mean what they say.

A Bradley-Terry reward model claims P(a preferred to b) = sigmoid(r(a) - r(b)).  After a few
epochs the differences are usually too large (overconfident) or, early on, too small.  One
positive number fixes the scale without changing any ranking (Guo et al. 2017):
P = sigmoid((r(a) - r(b)) / T), with T fitted on held-out comparisons by maximum likelihood.

The negative log-likelihood is convex in beta = 1/T, so a few Newton steps find it exactly.

Targets are smoothed as in Platt (1999): each comparison counts as won with probability
(n + 1) / (n + 2) rather than 1. Without it, a validation split the model separates perfectly (a
small or easy one) drives T to 0 and every later probability to 0 or 1; with it, T stays finite and
the fitted probabilities are no more certain than n comparisons can show. On large splits the
smoothing changes nothing measurable.
"""

from __future__ import annotations

import numpy as np

N_BINS = 10
MIN_BETA = 1e-3  # a model no better than chance gets a very high temperature, never a negative one


def _nll_terms(beta: float, delta: np.ndarray, weight: np.ndarray, target: float = 1.0) -> tuple[float, float, float]:
    z = beta * delta
    p = 1.0 / (1.0 + np.exp(-z))  # P(better) under the model
    nll = float((weight * (target * np.logaddexp(0.0, -z) + (1.0 - target) * np.logaddexp(0.0, z))).sum())
    grad = float((weight * -(target - p) * delta).sum())
    hess = float((weight * p * (1.0 - p) * delta**2).sum())
    return nll, grad, hess


def fit_temperature(delta, weight=None, *, iterations: int = 50) -> float:
    """The T minimising -sum log sigmoid(delta / T) over strict comparisons.

    ``delta`` holds r(better) - r(worse) for each comparison (ties excluded), ``weight`` the
    optional per-comparison weights.  Returns 1.0 when there is nothing to fit.  The target of each
    comparison is Platt's (n + 1) / (n + 2), so a perfectly separated split gives a finite T.
    """
    delta = np.asarray(delta, dtype=np.float64)
    weight = np.ones_like(delta) if weight is None else np.asarray(weight, dtype=np.float64)
    if delta.size == 0 or not np.any(delta != 0):
        return 1.0
    target = (delta.size + 1.0) / (delta.size + 2.0)
    beta = 1.0
    nll, grad, hess = _nll_terms(beta, delta, weight, target)
    for _ in range(iterations):
        if hess <= 0:
            break
        step = grad / hess
        new = max(beta - step, MIN_BETA)
        new_nll, new_grad, new_hess = _nll_terms(new, delta, weight, target)
        while new_nll > nll + 1e-12 and abs(new - beta) > 1e-9:  # damped Newton: never go uphill
            new = max((beta + new) / 2, MIN_BETA)
            new_nll, new_grad, new_hess = _nll_terms(new, delta, weight, target)
        converged = abs(new - beta) < 1e-7 * max(beta, 1.0)
        beta, nll, grad, hess = new, new_nll, new_grad, new_hess
        if converged:
            break
    return float(1.0 / beta)


def preference_probability(r_a, r_b, temperature: float = 1.0):
    """P(a is preferred to b) = sigmoid((r_a - r_b) / T); works on scalars and arrays."""
    z = (np.asarray(r_a, dtype=np.float64) - np.asarray(r_b, dtype=np.float64)) / temperature
    p = 1.0 / (1.0 + np.exp(-z))
    return float(p) if np.ndim(p) == 0 else p


def p_best(rewards, temperature: float = 1.0) -> np.ndarray:
    """Probability that each response is the best of the set (Plackett-Luce / softmax of r / T).

    For two responses this is exactly :func:`preference_probability`.
    """
    z = np.asarray(rewards, dtype=np.float64) / temperature
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


def reliability_table(delta, temperature: float = 1.0, bins: int = N_BINS) -> tuple[float, list[dict]]:
    """Expected calibration error and the per-bin table of sigmoid(delta / T).

    The confidence max(p, 1 - p) is binned on [0.5, 1]; a comparison counts as right when
    delta > 0 (delta = r(better) - r(worse)).
    """
    delta = np.asarray(delta, dtype=np.float64)
    prob = 1.0 / (1.0 + np.exp(-delta / temperature))
    confidence = np.maximum(prob, 1.0 - prob)
    correct = delta > 0
    edges = np.linspace(0.5, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        mask = index == b
        if not mask.any():
            continue
        conf, acc = float(confidence[mask].mean()), float(correct[mask].mean())
        ece += mask.mean() * abs(acc - conf)
        table.append({"low": float(edges[b]), "high": float(edges[b + 1]), "confidence": conf, "accuracy": acc, "n": int(mask.sum())})
    return float(ece), table


def expected_calibration_error(delta, temperature: float = 1.0, bins: int = N_BINS) -> float:
    return reliability_table(delta, temperature, bins)[0]
