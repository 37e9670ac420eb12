"""Preference losses on reward differences.

For a comparison with reward difference d = r(better) - r(worse):
* strict preference, Bradley-Terry: -log sigmoid(d - margin_scale * margin)
  (margin_scale > 0 is Llama 2's margin from preference strength);
* tie, Rao-Kupper: P(tie) = sigmoid(eps - d) - sigmoid(-eps - d), i.e.
  -[log sigmoid(eps - d) + log sigmoid(eps + d) + log(1 - exp(-2 eps))]  (stable form);
  or Davidson: P(tie) = nu / (2 cosh(d/2) + nu) with nu = exp(eps).
  Both are minimised at d = 0, so ties teach "these are equally good" instead of being dropped.
Per-comparison weights form a weighted mean; optional centering adds coef * mean(r^2).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def pair_losses(
    delta: torch.Tensor,
    tie: torch.Tensor,
    margin: torch.Tensor,
    *,
    margin_scale: float = 0.0,
    tie_loss: str = "rao-kupper",
    tie_epsilon: float = 1.0,
) -> torch.Tensor:
    strict = -F.logsigmoid(delta - margin_scale * margin)
    if not bool(tie.any()):
        return strict
    if tie_loss == "rao-kupper":
        constant = math.log(-math.expm1(-2.0 * tie_epsilon))
        tied = -(F.logsigmoid(tie_epsilon - delta) + F.logsigmoid(tie_epsilon + delta) + constant)
    elif tie_loss == "davidson":
        log_nu = torch.full_like(delta, tie_epsilon)
        # log(2 cosh(d/2) + nu) = logsumexp(d/2, -d/2, log nu)
        tied = torch.logsumexp(torch.stack([delta / 2, -delta / 2, log_nu]), dim=0) - tie_epsilon
    else:
        raise ValueError(f"unknown tie_loss {tie_loss!r}")
    return torch.where(tie, tied, strict)


def preference_loss(scores: torch.Tensor, batch, config) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted mean loss of one batch; ``scores`` is (texts, heads) from the model."""
    delta = scores[batch.better, batch.head] - scores[batch.worse, batch.head]
    losses = pair_losses(
        delta,
        batch.tie,
        batch.margin,
        margin_scale=config.margin_scale,
        tie_loss=config.tie_loss,
        tie_epsilon=config.tie_epsilon,
    )
    loss = (losses * batch.weight).sum() / batch.weight.sum()
    if config.center_rewards:
        loss = loss + config.center_rewards * scores.pow(2).mean()
    with torch.no_grad():
        strict = ~batch.tie
        correct = (delta[strict] > 0).float()
    stats = {"loss": float(loss.detach()), "correct": float(correct.sum()), "judged": int(strict.sum())}
    return loss, stats
