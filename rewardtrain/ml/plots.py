"""Pictures of a reward model: reliability diagram, reward histograms, training curves.

Each function writes one PNG with matplotlib's Agg backend (headless workers have no display)
and closes its figure, so a long-running worker does not accumulate them.
"""

from __future__ import annotations

from collections.abc import Sequence

DPI = 100


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: str) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def reliability_diagram(table: list[dict], path: str, title: str = "Reliability of sigmoid(reward difference)") -> None:
    """Accuracy against confidence per bin of ``pair_metrics(...)["reliability"]``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0.5, 1.0], [0.5, 1.0], "--", color="grey", label="perfect calibration")
    if table:
        centers = [(row["low"] + row["high"]) / 2 for row in table]
        ax.bar(centers, [row["accuracy"] for row in table], width=0.05, alpha=0.7, edgecolor="black", label="accuracy")
        ax.plot([row["confidence"] for row in table], [row["accuracy"] for row in table], "o-", color="C3", label="mean confidence")
    ax.set_xlim(0.5, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("confidence max(p, 1 - p)")
    ax.set_ylabel("pairwise accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    _save(plt, fig, path)


def reward_histograms(
    chosen: Sequence[float], rejected: Sequence[float], path: str, title: str = "Rewards of chosen and rejected responses"
) -> None:
    """Overlaid histograms of the rewards of chosen and rejected responses, on shared bins, with
    each mean marked; the further apart the two, the better the model separates them.  The
    inputs are ``evaluate_model(..., return_rewards=True)``'s ``chosen_rewards`` and
    ``rejected_rewards``."""
    import numpy as np

    plt = _pyplot()
    chosen, rejected = np.asarray(chosen, dtype=float), np.asarray(rejected, dtype=float)
    both = np.concatenate([chosen, rejected])
    bins = np.histogram_bin_edges(both, bins=min(40, max(5, len(both) // 10))) if len(both) else 10
    fig, ax = plt.subplots(figsize=(6, 4))
    for values, name, color in ((chosen, "chosen", "C2"), (rejected, "rejected", "C3")):
        if len(values):
            ax.hist(values, bins=bins, alpha=0.5, color=color, edgecolor="black", linewidth=0.4,
                    label=f"{name} (n={len(values)}, mean {values.mean():.2f})")
            ax.axvline(values.mean(), color=color, linestyle="--")
    if not len(both):
        ax.text(0.5, 0.5, "no comparisons", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("reward")
    ax.set_ylabel("responses")
    ax.set_title(title, fontsize=9)
    if len(both):
        ax.legend(fontsize=8)
    _save(plt, fig, path)


def training_curves(history: Sequence[dict], path: str, title: str = "Training") -> None:
    """Loss and accuracy against optimizer step, one line per split.

    ``history`` entries are ``{"step", "loss", "accuracy", "split"}`` -- metrics.json's
    ``train_history`` (split "train") and ``history`` (split "eval") together; entries without
    a split count as eval.
    """
    plt = _pyplot()
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.8))
    styles = {"train": {"color": "C0", "alpha": 0.7, "linewidth": 1}, "eval": {"color": "C1", "marker": "o"}}
    for split in sorted({entry.get("split", "eval") for entry in history}, key=lambda s: (s != "train", s)):
        entries = sorted((e for e in history if e.get("split", "eval") == split), key=lambda e: e["step"])
        style = styles.get(split, {})
        for ax, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
            points = [(e["step"], e[key]) for e in entries if e.get(key) is not None]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], label=split, **style)
    loss_ax.set_ylabel("preference loss")
    acc_ax.set_ylabel("pairwise accuracy")
    acc_ax.set_ylim(0.0, 1.0)
    for ax in (loss_ax, acc_ax):
        ax.set_xlabel("optimizer step")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    _save(plt, fig, path)
