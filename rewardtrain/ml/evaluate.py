"""Held-out evaluation: accuracy, calibration and reward statistics.

``accuracy`` counts a strict comparison as right only when r(better) > r(worse); equal scores
count as wrong, so a constant model scores 0, not 50%.  Calibration treats sigmoid(d) as the
model's probability that the annotator prefers the first response; the confidence max(p, 1-p)
is binned and compared with how often the model was right (expected calibration error).
"""

from __future__ import annotations

import numpy as np

from .batching import EncodedData, encode_groups
from .data import Group, load_groups
from .loss import pair_losses

N_BINS = 10


def _pair_arrays(scores: np.ndarray, data: EncodedData, head_of: dict[str | None, int]):
    delta, tie, margin, weight, criterion = [], [], [], [], []
    for group, texts in zip(data.groups, data.group_texts):
        head = head_of.get(group.criterion, 0)
        for (i, j), is_tie, m in zip(group.pairs, group.ties, group.margins):
            delta.append(scores[texts[i], head] - scores[texts[j], head])
            tie.append(is_tie)
            margin.append(m)
            weight.append(group.pair_weight)
            criterion.append(group.criterion or "overall")
    return np.array(delta, dtype=np.float64), np.array(tie, dtype=bool), np.array(margin), np.array(weight), criterion


def _strength_buckets(margin: np.ndarray) -> list[tuple[str, np.ndarray]]:
    values = np.unique(margin)
    if len(values) <= 8:
        return [(f"{v:g}", margin == v) for v in values]
    edges = np.unique(np.quantile(margin, [0, 0.25, 0.5, 0.75, 1.0]))
    buckets = []
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        last = k == len(edges) - 2
        mask = (margin >= lo) & ((margin <= hi) if last else (margin < hi))
        buckets.append((f"[{lo:g}, {hi:g}{']' if last else ')'}", mask))
    return buckets


def calibration(delta: np.ndarray, bins: int = N_BINS) -> tuple[float, list[dict]]:
    prob = 1.0 / (1.0 + np.exp(-delta))
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


def reliability_diagram(table: list[dict], path: str, title: str = "Reliability of sigmoid(reward difference)") -> None:
    import matplotlib

    matplotlib.use("Agg")  # headless workers have no display
    import matplotlib.pyplot as plt

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
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _by_strength(margin: np.ndarray, right: np.ndarray) -> dict:
    if not len(margin):
        return {}
    return {
        name: {"accuracy": float(right[mask].mean()), "pairs": int(mask.sum())}
        for name, mask in _strength_buckets(margin)
        if mask.any()
    }


def pair_metrics(scores: np.ndarray, data: EncodedData, heads: list[str], loss_options: dict | None = None) -> dict:
    """All metrics from precomputed (texts, heads) scores."""
    import torch

    head_of = {h: i for i, h in enumerate(heads) if i > 0}
    delta, tie, margin, weight, criterion = _pair_arrays(scores, data, head_of)
    strict = ~tie
    right = delta > 0
    losses = pair_losses(torch.from_numpy(delta), torch.from_numpy(tie), torch.from_numpy(margin).float(), **(loss_options or {}))
    ece, table = calibration(delta[strict])
    overall = scores[:, 0]
    lengths = np.zeros(len(overall))
    for group, texts in zip(data.groups, data.group_texts):
        for response, t in zip(group.responses, texts):
            lengths[t] = len(response)
    corr = None
    if len(overall) > 2 and overall.std() > 0 and lengths.std() > 0:
        corr = float(np.corrcoef(overall, lengths)[0, 1])
    criteria = np.array(criterion)
    return {
        "groups": len(data.groups),
        "pairs": int(len(delta)),
        "tie_pairs": int(tie.sum()),
        "accuracy": float(right[strict].mean()) if strict.any() else None,
        "accuracy_by_strength": _by_strength(margin[strict], right[strict]),
        "accuracy_by_criterion": {
            name: {"accuracy": float(right[(criteria == name) & strict].mean()), "pairs": int(((criteria == name) & strict).sum())}
            for name in sorted(set(criterion))
            if ((criteria == name) & strict).any()
        },
        "tie_mean_abs_difference": float(np.abs(delta[tie]).mean()) if tie.any() else None,
        "loss": float((losses.numpy() * weight).sum() / weight.sum()),
        "ece": ece,
        "reliability": table,
        "reward_mean": float(overall.mean()),
        "reward_std": float(overall.std()),
        "length_correlation": corr,
    }


def evaluate_model(
    model,
    data: str | list[Group],
    *,
    diagram: str | None = None,
    batch_tokens: int = 16384,
) -> dict:
    """Evaluate a model folder (or loaded :class:`RewardModel`) on a preference file.

    Works on any sequence-classification folder; without rewardtrain.json the input format is
    inferred from the architecture.  ``diagram`` writes a reliability-diagram PNG there.
    """
    from .score import RewardModel

    reward_model = model if isinstance(model, RewardModel) else RewardModel(model, batch_tokens=batch_tokens)
    groups = load_groups(data) if isinstance(data, str) else data
    formatter = reward_model.formatter()
    encoded = encode_groups(groups, formatter)
    scores = reward_model.score_encoded(encoded.ids, encoded.types)
    train_cfg = reward_model.meta.get("train_config") or {}
    loss_options = {k: train_cfg[k] for k in ("tie_loss", "tie_epsilon") if k in train_cfg}
    metrics = pair_metrics(scores, encoded, reward_model.heads, loss_options)
    metrics["truncated_prompts"] = formatter.truncated_prompts
    metrics["truncated_responses"] = formatter.truncated_responses
    if diagram:
        reliability_diagram(metrics["reliability"], diagram)
    return metrics

