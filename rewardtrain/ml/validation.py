"""The validation split's jobs in training: best checkpoint, early stopping, temperature.

When no ``eval_data`` is given, ``val_fraction`` of the training prompts are held out by a hash of
the prompt (every comparison of a prompt lands on the same side, as in the app's snapshots).

Checkpoints are compared by the *calibrated* validation loss: the Bradley-Terry loss after the
best temperature for those rewards.  Plain loss punishes a model that ranks better but is more
confident than it should be; the temperature fixes confidence afterwards anyway, so what is left
to choose on is how well the rewards rank.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np


def split_validation(groups: list, fraction: float, seed: int) -> tuple[list, list]:
    """(train, validation) by prompt hash; validation is empty when ``fraction`` is 0."""
    if fraction <= 0:
        return groups, []
    train, val = [], []
    for group in groups:
        digest = hashlib.sha256(f"{seed}:{group.prompt}".encode()).digest()
        (val if int.from_bytes(digest[:8], "big") / 2**64 < fraction else train).append(group)
    if not train or not val:  # too little data to spare a validation split
        return groups, []
    return train, val


def calibrated_loss(delta: np.ndarray, weight: np.ndarray | None = None) -> tuple[float, float]:
    """(mean -log sigmoid(delta / T) at the fitted T, T) over strict comparisons."""
    from .calibration import fit_temperature

    delta = np.asarray(delta, dtype=np.float64)
    weight = np.ones_like(delta) if weight is None else np.asarray(weight, dtype=np.float64)
    if delta.size == 0:
        return math.nan, 1.0
    temperature = fit_temperature(delta, weight)
    nll = float((weight * np.logaddexp(0.0, -delta / temperature)).sum() / weight.sum())
    return nll, temperature


class BestWeights:
    """Keeps a CPU copy of the weights with the lowest validation score seen so far."""

    def __init__(self, patience: int = 0):
        self.patience = patience
        self.best = math.inf
        self.best_step: int | None = None
        self.state: dict | None = None
        self.evaluations_since_best = 0

    def update(self, model, score: float, step: int, keep: bool = True) -> bool:
        if score < self.best:
            self.best, self.best_step, self.evaluations_since_best = score, step, 0
            if keep:
                self.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            return True
        self.evaluations_since_best += 1
        return False

    @property
    def should_stop(self) -> bool:
        return bool(self.patience) and self.evaluations_since_best >= self.patience

    def restore(self, model) -> bool:
        if self.state is None:
            return False
        model.load_state_dict(self.state)
        return True
