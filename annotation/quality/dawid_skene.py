"""Dawid–Skene (1979): each annotator's confusion matrix and each item's true class, by EM. No Django.

Every annotator j has a confusion matrix θ_j[k, l] = P(j answers l | the true class is k); classes
have priors π_k. EM alternates
  E: T[i, k] ∝ π_k · Π_{(j, l) labels of item i} θ_j[k, l]          (posterior of item i's class)
  M: π_k = mean_i T[i, k];  θ_j[k, l] ∝ smoothing + Σ_{items i that j labelled l} T[i, k]
starting from the items' vote shares (soft majority). An annotator's *reliability* is the chance the
model gives them of answering the true class, Σ_k π_k θ_j[k, k]: ≈ 1 for a careful annotator, about
the largest class share for one who always gives the same answer, ≈ 1 / number of classes used for
one answering at random. (crowd-kit implements the same model, but needs nltk and transformers;
this is the few lines it takes in numpy.)
"""
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class DawidSkene:
    posteriors: np.ndarray  # items × classes
    confusion: np.ndarray  # annotators × classes (true) × classes (answered)
    priors: np.ndarray  # classes
    iterations: int

    @property
    def reliability(self) -> np.ndarray:
        """Per annotator: Σ_k π_k θ[k, k]."""
        return np.einsum("k,jkk->j", self.priors, self.confusion)


def dawid_skene(items: Sequence[int], annotators: Sequence[int], labels: Sequence[int], *, n_items: int,
                n_annotators: int, n_classes: int, iterations: int = 50, tol: float = 1e-6,
                smoothing: float = 0.01) -> DawidSkene:
    """EM on one label per (items[n], annotators[n], labels[n]) triple, indices from 0. `iterations`
    M+E rounds at most, stopping when no posterior moves more than `tol`. `smoothing` is added to every
    confusion count, so an annotator seen on few items is not certain of anything (0: plain EM)."""
    items, annotators, labels = (np.asarray(a, dtype=np.int64) for a in (items, annotators, labels))
    posteriors = np.zeros((n_items, n_classes))
    np.add.at(posteriors, (items, labels), 1.0)
    seen = posteriors.sum(axis=1, keepdims=True)
    posteriors = np.divide(posteriors, seen, out=np.full_like(posteriors, 1 / n_classes), where=seen > 0)
    priors = np.full(n_classes, 1 / n_classes)
    confusion = np.full((n_annotators, n_classes, n_classes), 1 / n_classes)
    cell = annotators * n_classes + labels
    done = 0
    for done in range(1, iterations + 1):
        # M: priors and confusion matrices from the current posteriors.
        priors = posteriors.mean(axis=0) if n_items else priors
        counts = np.full((n_annotators, n_classes, n_classes), float(smoothing))
        for k in range(n_classes):  # bincount, not np.add.at: ~10× faster on 300k labels
            counts[:, k, :] += np.bincount(cell, weights=posteriors[items, k],
                                           minlength=n_annotators * n_classes).reshape(n_annotators, n_classes)
        totals = counts.sum(axis=2, keepdims=True)
        confusion = np.divide(counts, totals, out=np.full_like(counts, 1 / n_classes), where=totals > 0)
        # E: posteriors from priors and confusion matrices, in logs (many labels per item underflow).
        with np.errstate(divide="ignore"):
            log_conf = np.log(confusion)
            log_post = np.tile(np.log(priors), (n_items, 1))
        per_label = log_conf[annotators, :, labels]  # labels × classes
        for k in range(n_classes):
            log_post[:, k] += np.bincount(items, weights=per_label[:, k], minlength=n_items)
        log_post -= log_post.max(axis=1, keepdims=True)
        new = np.exp(log_post)
        new /= new.sum(axis=1, keepdims=True)
        moved = np.abs(new - posteriors).max() if n_items else 0.0
        posteriors = new
        if moved < tol:
            break
    return DawidSkene(posteriors=posteriors, confusion=confusion, priors=priors, iterations=done)
