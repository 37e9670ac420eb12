import math
from types import SimpleNamespace

import pytest
import torch

from rewardtrain.ml.loss import pair_losses, preference_loss


def losses(delta, tie=False, margin=0.0, **kw):
    d = torch.tensor([float(delta)], requires_grad=True)
    out = pair_losses(d, torch.tensor([tie]), torch.tensor([float(margin)]), **kw)
    out.sum().backward()
    return out.item(), d.grad.item()


def test_bradley_terry_and_llama2_margin():
    assert losses(0.0)[0] == pytest.approx(math.log(2))
    assert losses(2.0)[0] == pytest.approx(-math.log(1 / (1 + math.exp(-2))))
    # A margin of 1 (scaled by 1) makes a reward gap of 1 cost what a gap of 0 costs without it.
    assert losses(1.0, margin=1.0, margin_scale=1.0)[0] == pytest.approx(math.log(2))
    assert losses(1.0, margin=1.0, margin_scale=0.0)[0] == pytest.approx(losses(1.0)[0])


@pytest.mark.parametrize("kind", ["rao-kupper", "davidson"])
def test_ties_pull_rewards_together(kind):
    value0, grad0 = losses(0.0, tie=True, tie_loss=kind)
    value_pos, grad_pos = losses(1.5, tie=True, tie_loss=kind)
    value_neg, grad_neg = losses(-1.5, tie=True, tie_loss=kind)
    assert grad0 == pytest.approx(0.0, abs=1e-7)
    assert value_pos == pytest.approx(value_neg) and value_pos > value0
    assert grad_pos > 0 > grad_neg  # gradient descent shrinks |delta| from either side


def test_tie_losses_match_their_closed_forms():
    eps, d = 0.7, 0.4
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    rao_kupper = -math.log(sig(eps - d) - sig(-eps - d))
    nu = math.exp(eps)
    davidson = -math.log(nu / (2 * math.cosh(d / 2) + nu))
    assert losses(d, tie=True, tie_epsilon=eps)[0] == pytest.approx(rao_kupper)
    assert losses(d, tie=True, tie_loss="davidson", tie_epsilon=eps)[0] == pytest.approx(davidson)


def batch(better, worse, weight, tie=None, head=None):
    n = len(better)
    return SimpleNamespace(
        better=torch.tensor(better), worse=torch.tensor(worse), weight=torch.tensor(weight),
        tie=torch.tensor(tie or [False] * n), margin=torch.zeros(n), head=torch.tensor(head or [0] * n),
    )


CONFIG = SimpleNamespace(margin_scale=0.0, tie_loss="rao-kupper", tie_epsilon=1.0, center_rewards=0.0)


def test_weights_count_like_repeated_rows():
    scores = torch.tensor([[1.0], [0.0], [0.5], [2.0]])
    weighted, _ = preference_loss(scores, batch([0, 2], [1, 3], [3.0, 1.0]), CONFIG)
    repeated, _ = preference_loss(scores, batch([0, 0, 0, 2], [1, 1, 1, 3], [1.0] * 4), CONFIG)
    assert weighted.item() == pytest.approx(repeated.item())


def test_centering_penalises_reward_offset_and_heads_are_separate():
    scores = torch.tensor([[3.0, 0.0], [2.0, 1.0]])
    plain, stats = preference_loss(scores, batch([0], [1], [1.0]), CONFIG)
    centred, _ = preference_loss(scores, batch([0], [1], [1.0]), SimpleNamespace(**{**vars(CONFIG), "center_rewards": 0.01}))
    assert centred.item() == pytest.approx(plain.item() + 0.01 * scores.pow(2).mean().item())
    assert stats["correct"] == 1
    # On head 1 the same two texts are ordered the other way round.
    _, stats_head1 = preference_loss(scores, batch([0], [1], [1.0], head=[1]), CONFIG)
    assert stats_head1["correct"] == 0
