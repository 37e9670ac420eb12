"""The length head: preferences explained by quality + length, the quality reward kept free of length."""

import numpy as np
import torch

from rewardtrain.ml.length_head import LengthHead


def confounded_texts(n: int, seed: int = 0):
    """Texts whose quality and length correlate (better ones are shorter, r about -0.5), as in
    harmlessness data where a refusal is both short and preferred."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(size=n)
    length = 200 + 60 * (-0.5 * quality + 0.87 * rng.normal(size=n))
    return quality, np.clip(length, 5, None)


def train_linear_reward(quality, length, use_head: bool, steps: int = 600, seed: int = 0):
    """A linear reward on (quality, length) features fitted to preferences that favour
    quality and, independently, shorter answers; batches are grouped by prompt + response
    length like the trainer's, so long responses tend to share batches."""
    rng = np.random.default_rng(seed)
    n = len(quality)
    z = (length - length.mean()) / length.std()
    features = torch.tensor(np.stack([quality, z], axis=1), dtype=torch.float32)
    weights = torch.zeros(2, requires_grad=True)
    head = LengthHead(length, penalty=1.0) if use_head else None
    params = [weights] + (list(head.parameters()) if head else [])
    optimizer = torch.optim.Adam(params, lr=0.05)
    by_length = np.argsort(length + rng.normal(200, 100, size=n))
    for step in range(steps):
        start = rng.integers(0, n - 64)
        texts = by_length[start : start + 64]  # one length-homogeneous batch
        a, b = rng.permutation(texts)[:32], rng.permutation(texts)[32:64]
        true_delta = 2.0 * (quality[a] - quality[b]) - 1.0 * (z[a] - z[b])
        a_wins = torch.tensor(rng.random(32) < 1 / (1 + np.exp(-true_delta)))
        better, worse = torch.where(a_wins, torch.tensor(a), torch.tensor(b)), torch.where(a_wins, torch.tensor(b), torch.tensor(a))
        reward = features @ weights
        total = reward + (head.length_reward(np.arange(n)) if head else 0.0)
        loss = -torch.nn.functional.logsigmoid(total[better] - total[worse]).mean()
        if head:
            loss = loss + head.loss(reward[texts], texts)[0]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (features @ weights).detach().numpy(), head


def test_quality_reward_stops_following_length_while_ranking_by_quality():
    quality, length = confounded_texts(4000)
    plain, _ = train_linear_reward(quality, length, use_head=False)
    robust, head = train_linear_reward(quality, length, use_head=True)
    corr = lambda x, y: float(np.corrcoef(x, y)[0, 1])  # noqa: E731
    # A plain Bradley-Terry fit carries the annotators' taste for short answers in its reward ...
    assert corr(plain, length) < -0.5
    # ... the quality reward of the length-head model does not, on all texts, not just per batch,
    assert abs(corr(robust, length)) < 0.15
    # it still ranks by quality, and the length reward took the taste for short answers.
    assert corr(robust, quality) > 0.7
    assert head.to_dict()["slope"] < 0
