"""Scoring texts with a trained reward-model folder (raw rewards, or z-scored with the reward
mean/std the trainer measured on its training data)."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import torch

from .batching import inference_batches, pad_rows
from .calibration import p_best, preference_probability
from .data import load_score_rows
from .formatting import Formatter
from .hardware import Precision, pick_device, scoring_precision
from .model import OVERALL, RewardScorer, load_reward_model

log = logging.getLogger(__name__)


def compile_scorer(scorer: RewardScorer, device) -> tuple[object | None, str]:
    """(``torch.compile``-d scorer or None, why): inductor with dynamic shapes (one graph for every
    batch shape) and freezing (weights folded in as constants, prepacked for oneDNN on a CPU).
    Compilation itself happens on the first call; :func:`predict` falls back to eager if it fails."""
    if not hasattr(torch, "compile"):
        return None, "this torch has no torch.compile"
    if device.type == "cpu" and not (shutil.which("cc") or shutil.which("gcc") or shutil.which("g++")):
        return None, "no C/C++ compiler on this host for inductor's CPU kernels"
    try:
        return torch.compile(scorer, dynamic=True, options={"freezing": True}), "inductor, dynamic shapes, freezing"
    except Exception as exc:  # noqa: BLE001 - an unusable compiler must never stop scoring
        return None, f"torch.compile failed: {type(exc).__name__}: {exc}"


@torch.inference_mode()
def predict(
    scorer: RewardScorer, ids, types, pad_id: int, batch_tokens: int, device, precision: Precision | None = None,
    forward=None,
) -> np.ndarray:
    """(texts, heads) raw rewards; batches are length-sorted so little padding is computed.
    ``precision`` defaults to :func:`~rewardtrain.ml.hardware.scoring_precision` for ``device``;
    ``forward`` (e.g. a compiled ``scorer``) computes the batches instead of ``scorer`` itself."""
    was_training = scorer.training
    scorer.eval()
    precision = precision or scoring_precision(device)
    forward = scorer if forward is None else forward
    out = np.zeros((len(ids), scorer.model.config.num_labels), dtype=np.float32)
    for rows in inference_batches([len(i) for i in ids], batch_tokens):
        input_ids, mask, token_types = pad_rows([ids[r] for r in rows], [types[r] for r in rows], pad_id)
        token_types = None if token_types is None else token_types.to(device)
        with precision.autocast(device):
            scores = forward(input_ids.to(device), mask.to(device), token_types)
        out[rows] = scores.float().cpu().numpy()
    scorer.train(was_training)
    return out


def normalization(scores: np.ndarray) -> dict:
    """Per-head reward mean and std of (texts, heads) scores: what rewardtrain.json stores and
    :meth:`RewardModel.normalize` divides by."""
    return {"mean": scores.mean(0).tolist(), "std": scores.std(0).tolist(), "responses": int(len(scores))}


class RewardModel:
    """A loaded reward-model folder; load once, score many times (e.g. in a web service).

    ``bf16``: None (default) uses bf16 on GPUs that support it and fp32 on CPUs, so CPU scores
    equal plain ``transformers``; True also uses it on CPUs with native bf16; False never.
    ``precision`` says which was chosen and why.
    """

    def __init__(self, folder: str, *, device: str | None = None, batch_tokens: int = 16384, bf16: bool | None = None,
                 compile: bool = False):
        model, self.tokenizer, self.format, self.heads, self.meta = load_reward_model(folder)
        self.device = pick_device(device)
        self.precision = scoring_precision(self.device, bf16)
        self.scorer = RewardScorer(model, self.format.last_token_pooling, self.meta.get("pooling")).to(self.device)
        self.batch_tokens = max(batch_tokens, self.format.max_length)
        norm = self.meta.get("normalization") or {}
        self.mean = np.array(norm.get("mean", [0.0] * len(self.heads)), dtype=np.float32)
        self.std = np.array(norm.get("std", [1.0] * len(self.heads)), dtype=np.float32)
        # Fitted on the validation split at training time (rewardtrain.ml.calibration); 1.0 when
        # the folder has none, i.e. plain sigmoid of the reward difference.
        self.temperature = float((self.meta.get("calibration") or {}).get("temperature", 1.0))
        # ``compile``: score through torch.compile (compiled on the first call, seconds to minutes);
        # ``compiled`` says what was used and why, e.g. "eager (no C/C++ compiler ...)".
        self._compiled, self.compiled = None, "eager (not asked for)"
        if compile:
            self._compiled, reason = compile_scorer(self.scorer, self.device)
            self.compiled = reason if self._compiled is not None else f"eager ({reason})"

    def preference_probability(self, r_a, r_b):
        """P(response a is preferred to b) = sigmoid((r_a - r_b) / T), from raw rewards."""
        return preference_probability(r_a, r_b, self.temperature)

    def p_best(self, rewards) -> np.ndarray:
        """Probability that each of one prompt's responses is the best, from their raw rewards."""
        return p_best(rewards, self.temperature)

    def formatter(self) -> Formatter:
        return Formatter(self.tokenizer, self.format)

    def score_encoded(self, ids, types) -> np.ndarray:
        args = (self.scorer, ids, types, self.tokenizer.pad_token_id, self.batch_tokens, self.device, self.precision)
        if self._compiled is not None:
            try:
                return predict(*args, forward=self._compiled)
            except Exception as exc:  # noqa: BLE001 - a compiler failure falls back to eager, once
                log.warning("torch.compile scoring failed, scoring eagerly from now on: %s: %s", type(exc).__name__, exc)
                self._compiled, self.compiled = None, f"eager (compiled scoring failed: {type(exc).__name__})"
        return predict(*args)

    def normalize(self, scores: np.ndarray) -> np.ndarray:
        """Raw (n, heads) rewards as z-scores against the training data's reward mean and std."""
        return (scores - self.mean) / np.where(self.std > 0, self.std, 1.0)

    def score(self, prompts: list[str], responses: list[str], *, normalize: bool = False) -> np.ndarray:
        """(n, heads) rewards; ``normalize`` maps them to training-data z-scores."""
        encoded = self.formatter().encode(list(prompts), list(responses))
        scores = self.score_encoded([e[0] for e in encoded], [e[1] for e in encoded])
        return self.normalize(scores) if normalize else scores

    def features(self, prompts: list[str], responses: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(raw rewards (n, heads), last-layer features (n, d)): what the reward head reads."""
        from .features import last_layer_features

        return last_layer_features(self, prompts, responses)


def score_texts(
    model: str | RewardModel,
    prompts: list[str],
    responses: list[str],
    *,
    head: str = OVERALL,
    normalize: bool = False,
) -> list[float]:
    """Reward of each (prompt, response); ``model`` is a folder path or a loaded RewardModel."""
    if len(prompts) != len(responses):
        raise ValueError("prompts and responses must have the same length")
    reward_model = model if isinstance(model, RewardModel) else RewardModel(model)
    column = reward_model.heads.index(head)
    return reward_model.score(prompts, responses, normalize=normalize)[:, column].tolist()


def score_file(model: str | RewardModel, data: str, out: str) -> int:
    """Write each input row back with ``rewards`` (raw), ``rewards_normalized``, ``p_best`` (rows
    with several responses; uses the folder's temperature) and, with criterion heads,
    ``rewards_by_criterion``; returns the number of rows."""
    reward_model = model if isinstance(model, RewardModel) else RewardModel(model)
    rows = load_score_rows(data)
    prompts = [row["prompt"] for _, row, responses in rows for _ in responses]
    responses = [r for _, _, rs in rows for r in rs]
    raw = reward_model.score(prompts, responses)
    norm = reward_model.normalize(raw)
    at = 0
    with open(out, "w", encoding="utf-8") as handle:
        for _, row, rs in rows:
            part, part_norm = raw[at : at + len(rs)], norm[at : at + len(rs)]
            at += len(rs)
            result = dict(row, rewards=part[:, 0].tolist(), rewards_normalized=part_norm[:, 0].tolist())
            if len(rs) > 1:
                result["p_best"] = reward_model.p_best(part[:, 0]).tolist()
            if len(reward_model.heads) > 1:
                result["rewards_by_criterion"] = {
                    h: part[:, i].tolist() for i, h in enumerate(reward_model.heads) if i > 0
                }
            handle.write(json.dumps(result, ensure_ascii=False) + "\n")
    return len(rows)
