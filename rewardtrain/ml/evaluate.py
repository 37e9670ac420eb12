"""Held-out evaluation: accuracy, calibration, reward statistics and length baselines.

``accuracy`` counts a strict comparison as right only when r(better) > r(worse); equal scores
count as wrong, so a constant model scores 0, not 50%.  Calibration treats sigmoid(d) as the
model's probability that the annotator prefers the first response; the confidence max(p, 1-p)
is binned and compared with how often the model was right (expected calibration error).

Length, the reward hack a policy finds first, is reported beside the accuracy: the correlation
of reward with response length in characters, and the accuracy of two rules that ignore the
text -- "the longer response wins" and "the shorter response wins" -- on the same strict
comparisons, with equal lengths counted as wrong like equal scores.  A model whose accuracy is
not clearly above the better of the two has mostly learnt length.
"""

from __future__ import annotations

import numpy as np

from .batching import EncodedData, encode_groups
from .data import Group, load_groups
from .calibration import reliability_table
from .loss import pair_losses
from .plots import reliability_diagram, reward_histograms

N_BINS = 10


def _pair_arrays(scores: np.ndarray, data: EncodedData, head_of: dict[str | None, int]) -> dict[str, np.ndarray]:
    """One entry per comparison, in file order: rewards of the better and worse response on the
    comparison's head, tie flag, margin, weight, criterion and the two response lengths."""
    columns: dict[str, list] = {k: [] for k in ("better", "worse", "tie", "margin", "weight", "criterion", "len_better", "len_worse")}
    for group, texts in zip(data.groups, data.group_texts):
        head = head_of.get(group.criterion, 0)
        for (i, j), is_tie, m in zip(group.pairs, group.ties, group.margins):
            columns["better"].append(scores[texts[i], head])
            columns["worse"].append(scores[texts[j], head])
            columns["tie"].append(is_tie)
            columns["margin"].append(m)
            columns["weight"].append(group.pair_weight)
            columns["criterion"].append(group.criterion or "overall")
            columns["len_better"].append(len(group.responses[i]))
            columns["len_worse"].append(len(group.responses[j]))
    arrays = {k: np.array(v) for k, v in columns.items()}
    arrays["better"] = arrays["better"].astype(np.float64)
    arrays["worse"] = arrays["worse"].astype(np.float64)
    arrays["tie"] = arrays["tie"].astype(bool)
    return arrays


def _accuracy(right: np.ndarray) -> float | None:
    return float(right.mean()) if len(right) else None


def _length_correlation(scores: np.ndarray, data: EncodedData) -> float | None:
    """Pearson correlation of the overall reward with response length in characters, over the
    distinct (prompt, response) texts."""
    overall = scores[:, 0]
    lengths = np.zeros(len(overall))
    for group, texts in zip(data.groups, data.group_texts):
        for response, t in zip(group.responses, texts):
            lengths[t] = len(response)
    if len(overall) > 2 and overall.std() > 0 and lengths.std() > 0:
        return float(np.corrcoef(overall, lengths)[0, 1])
    return None


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


def calibration(delta: np.ndarray, bins: int = N_BINS, temperature: float = 1.0) -> tuple[float, list[dict]]:
    return reliability_table(delta, temperature, bins)


def _by_strength(margin: np.ndarray, right: np.ndarray) -> dict:
    if not len(margin):
        return {}
    return {
        name: {"accuracy": float(right[mask].mean()), "pairs": int(mask.sum())}
        for name, mask in _strength_buckets(margin)
        if mask.any()
    }


def pair_metrics(
    scores: np.ndarray,
    data: EncodedData,
    heads: list[str],
    loss_options: dict | None = None,
    *,
    return_rewards: bool = False,
    temperature: float = 1.0,
) -> dict:
    """All metrics from precomputed (texts, heads) scores; ``ece`` and the reliability table are
    for sigmoid(delta / temperature), the probabilities the model folder reports.

    ``return_rewards`` adds ``chosen_rewards`` and ``rejected_rewards``: the rewards of the
    better and the worse response of every comparison, in file order (a pair row is one
    comparison, a k-way row C(K,2); tie comparisons included, first response as "chosen").
    """
    import torch

    head_of = {h: i for i, h in enumerate(heads) if i > 0}
    pairs = _pair_arrays(scores, data, head_of)
    delta, tie, margin, weight = pairs["better"] - pairs["worse"], pairs["tie"], pairs["margin"], pairs["weight"]
    strict = ~tie
    right = delta > 0
    losses = pair_losses(torch.from_numpy(delta), torch.from_numpy(tie), torch.from_numpy(margin).float(), **(loss_options or {}))
    from .validation import calibrated_loss

    ece, table = calibration(delta[strict], temperature=temperature)
    ece_raw = ece if temperature == 1.0 else calibration(delta[strict])[0]
    fitted_loss, fitted_temperature = calibrated_loss(delta[strict], weight[strict])
    overall = scores[:, 0]
    criterion = pairs["criterion"].tolist()
    criteria = pairs["criterion"]
    len_better, len_worse = pairs["len_better"][strict], pairs["len_worse"][strict]
    metrics = {
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
        "ece_uncalibrated": ece_raw,
        "temperature": temperature,
        "reliability": table,
        # The loss after the best temperature for THESE pairs: how well the rewards rank, whatever
        # their scale (the trainer picks its best checkpoint on it).
        "calibrated_loss": fitted_loss,
        "fitted_temperature": fitted_temperature,
        "reward_mean": float(overall.mean()),
        "reward_std": float(overall.std()),
        "length_correlation": _length_correlation(scores, data),
        "longer_wins": _accuracy(len_better > len_worse),
        "shorter_wins": _accuracy(len_better < len_worse),
    }
    if return_rewards:
        metrics["chosen_rewards"] = pairs["better"].tolist()
        metrics["rejected_rewards"] = pairs["worse"].tolist()
    return metrics


def evaluate_model(
    model,
    data: str | list[Group],
    *,
    diagram: str | None = None,
    histogram: str | None = None,
    return_rewards: bool = False,
    batch_tokens: int = 16384,
    bf16: bool | None = None,
) -> dict:
    """Evaluate a model folder (or loaded :class:`RewardModel`) on a preference file.

    Works on any sequence-classification folder; without rewardtrain.json the input format is
    inferred from the architecture.  ``diagram`` writes a reliability-diagram PNG there,
    ``histogram`` the chosen/rejected reward histograms; ``return_rewards`` adds the per-comparison
    ``chosen_rewards``/``rejected_rewards`` (see :func:`pair_metrics`).  ``bf16`` is passed to
    :class:`RewardModel` (by default fp32 on CPU); ``precision`` in the report says what ran.
    """
    from .score import RewardModel

    reward_model = model if isinstance(model, RewardModel) else RewardModel(model, batch_tokens=batch_tokens, bf16=bf16)
    groups = load_groups(data) if isinstance(data, str) else data
    formatter = reward_model.formatter()
    encoded = encode_groups(groups, formatter)
    scores = reward_model.score_encoded(encoded.ids, encoded.types)
    train_cfg = reward_model.meta.get("train_config") or {}
    loss_options = {k: train_cfg[k] for k in ("tie_loss", "tie_epsilon") if k in train_cfg}
    metrics = pair_metrics(scores, encoded, reward_model.heads, loss_options, return_rewards=return_rewards or bool(histogram),
                           temperature=reward_model.temperature)
    metrics["truncated_prompts"] = formatter.truncated_prompts
    metrics["truncated_responses"] = formatter.truncated_responses
    metrics["precision"] = reward_model.precision.name
    metrics["precision_reason"] = reward_model.precision.reason
    if diagram:
        reliability_diagram(metrics["reliability"], diagram)
    if histogram:
        reward_histograms(metrics["chosen_rewards"], metrics["rejected_rewards"], histogram)
        if not return_rewards:
            del metrics["chosen_rewards"], metrics["rejected_rewards"]
    return metrics

