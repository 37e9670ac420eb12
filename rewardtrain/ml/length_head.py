"""Separating quality from length while training (after ODIN, Chen et al. 2024).

Preference data rewards length (longer on helpfulness sets, shorter on harmlessness sets), so a
plain Bradley-Terry model learns "count the characters" first, and a policy optimised against it
learns to pad or to clip.  ODIN trains two rewards on one backbone: a quality reward and a length
reward whose sum explains the preferences, with a penalty whenever the quality reward correlates
with length; only the quality reward is used afterwards.

Here the length reward is a single learned slope on the standardised response length, so it can
hold nothing but length, and the model's output 0 stays the quality reward the folder scores
with.  The penalty is the squared correlation between the quality reward and length, centred on a
running mean rather than the batch's: batches are grouped by length, so a per-batch estimate
would miss the difference between a batch of short texts and a batch of long ones.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

MOMENTUM = 0.9


def response_lengths(data) -> np.ndarray:
    """Characters of the response behind each distinct text of an ``EncodedData``."""
    lengths = np.zeros(len(data.ids), dtype=np.float64)
    for group, texts in zip(data.groups, data.group_texts):
        for response, t in zip(group.responses, texts):
            lengths[t] = len(response)
    return lengths


class LengthHead(nn.Module):
    """``slope * z(length)`` beside the quality reward, plus the decorrelation penalty."""

    def __init__(self, lengths: np.ndarray, penalty: float):
        super().__init__()
        mean, std = float(lengths.mean()), float(lengths.std()) or 1.0
        self.register_buffer("z", torch.tensor((lengths - mean) / std, dtype=torch.float32), persistent=False)
        self.length_mean, self.length_std = mean, std
        self.slope = nn.Parameter(torch.zeros(()))
        self.penalty = penalty
        self.reward_mean: float | None = None

    def length_reward(self, text_index) -> torch.Tensor:
        return self.slope * self.z[torch.as_tensor(text_index, device=self.z.device)]

    def correlation(self, quality: torch.Tensor, text_index) -> torch.Tensor:
        """Pearson's r of this batch's (quality reward, length) about their running means.

        Centring on the running mean of the reward and the data's mean length (not the batch
        means) keeps the part of the correlation that lies between batches; dividing by the
        batch's own spread keeps the estimate scale-free, so shrinking every reward cannot
        lower the penalty.
        """
        z = self.z[torch.as_tensor(text_index, device=self.z.device)]
        batch_mean = float(quality.detach().mean())
        self.reward_mean = batch_mean if self.reward_mean is None else MOMENTUM * self.reward_mean + (1 - MOMENTUM) * batch_mean
        centred = quality - self.reward_mean
        return (centred * z).mean() / (centred.pow(2).mean() * z.pow(2).mean() + 1e-8).sqrt()

    def loss(self, quality: torch.Tensor, text_index) -> tuple[torch.Tensor, float]:
        corr = self.correlation(quality, text_index)
        return self.penalty * corr.pow(2), float(corr.detach())

    def to_dict(self) -> dict:
        return {"slope": float(self.slope.detach()), "length_mean": self.length_mean, "length_std": self.length_std,
                "penalty": self.penalty, "unit": "characters of the response"}
