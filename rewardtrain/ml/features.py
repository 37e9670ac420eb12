"""Last-layer features: the vector the reward head reads, for active learning.

The reward is ``head(features)`` where ``head`` is the model's final linear layer (``classifier``
for BERT-style encoders, ``score`` for decoders, the last ``nn.Linear`` inside a classification
head such as RoBERTa's).  Features are captured with a forward hook on that layer, so whatever
pooling the model uses (CLS pooler, last token, mean) the features are exactly its input.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from .batching import inference_batches, pad_rows
from .hardware import Precision, scoring_precision


def head_layer(model: nn.Module) -> nn.Linear:
    """The linear layer that maps last-layer features to the reward outputs."""
    head = getattr(model, "score", None) or getattr(model, "classifier", None)
    if isinstance(head, nn.Linear):
        return head
    linears = [m for m in (head.modules() if head is not None else ()) if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"cannot find the reward head of {type(model).__name__}")
    return linears[-1]


@contextmanager
def capture_head_input(model: nn.Module):
    """Within the block, every forward of the head appends its input (float32, CPU) to the list."""
    captured: list[torch.Tensor] = []
    handle = head_layer(model).register_forward_hook(lambda mod, args, out: captured.append(args[0].detach().float().cpu()))
    try:
        yield captured
    finally:
        handle.remove()


@torch.inference_mode()
def scores_and_features(
    scorer, ids, types, pad_id: int, batch_tokens: int, device, precision: Precision | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(texts, heads) raw rewards and (texts, d) head-input features of encoded texts, computed
    as :func:`rewardtrain.ml.score.predict` computes rewards (same precision rule)."""
    precision = precision or scoring_precision(device)
    was_training = scorer.training
    scorer.eval()
    head = head_layer(scorer.model)
    scores = np.zeros((len(ids), head.out_features), dtype=np.float32)
    features = np.zeros((len(ids), head.in_features), dtype=np.float32)
    with capture_head_input(scorer.model) as captured:
        for rows in inference_batches([len(i) for i in ids], batch_tokens):
            input_ids, mask, token_types = pad_rows([ids[r] for r in rows], [types[r] for r in rows], pad_id)
            token_types = None if token_types is None else token_types.to(device)
            with precision.autocast(device):
                scores[rows] = scorer(input_ids.to(device), mask.to(device), token_types).float().cpu().numpy()
            features[rows] = captured.pop().numpy()
    scorer.train(was_training)
    return scores, features


def last_layer_features(reward_model, prompts: list[str], responses: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """For a loaded :class:`~rewardtrain.ml.score.RewardModel`: (rewards (n, heads), features (n, d)).

    ``features @ head.weight.T + head.bias`` equals the raw rewards (up to float rounding).
    """
    if len(prompts) != len(responses):
        raise ValueError("prompts and responses must have the same length")
    encoded = reward_model.formatter().encode(list(prompts), list(responses))
    return scores_and_features(
        reward_model.scorer, [e[0] for e in encoded], [e[1] for e in encoded],
        reward_model.tokenizer.pad_token_id, reward_model.batch_tokens, reward_model.device,
        getattr(reward_model, "precision", None),
    )
