"""Which hidden states the reward head reads, and how a saved folder keeps reading them.

* ``cls``: the architecture's own classification head (BERT: pooler on [CLS], then the linear
  classifier) -- what ``AutoModelForSequenceClassification`` computes out of the box.
* ``mean``: the mean of the last hidden states over real tokens, then the linear head.  Sentence
  encoders such as all-MiniLM-L6-v2 were trained to be read this way; their [CLS] state and
  pooler were not.
* ``last``: the last real token, then the linear head -- what decoders (GPT-2, Llama) need.

``auto`` is ``cls`` for encoders and ``last`` for decoders.  For ``mean`` and ``last`` the folder
also gets ``modeling_rewardtrain.py`` and an ``auto_map`` in config.json, so plain transformers
computes the same reward with ``AutoModelForSequenceClassification.from_pretrained(folder,
trust_remote_code=True)``; without ``trust_remote_code`` it would silently read [CLS] instead.
"""

from __future__ import annotations

import json
import os

import torch
from torch import nn

POOLINGS = ("auto", "cls", "mean", "last")
CODE_FILE = "modeling_rewardtrain.py"


def resolve_pooling(pooling: str, encoder: bool) -> str:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if pooling == "auto":
        return "cls" if encoder else "last"
    if pooling == "cls" and not encoder:
        raise ValueError("pooling='cls' needs an encoder (BERT family); decoders are read at the last token")
    return pooling


def linear_head(model) -> nn.Linear | None:
    """The final linear layer of a sequence-classification model (``score`` or ``classifier``)."""
    for name in ("score", "classifier"):
        head = getattr(model, name, None)
        if isinstance(head, nn.Linear):
            return head
    return None


def head_name(model) -> str:
    for name in ("score", "classifier"):
        if isinstance(getattr(model, name, None), nn.Linear):
            return name
    raise ValueError(f"{type(model).__name__} has no linear 'score' or 'classifier' head to pool into")


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    if pooling == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    if pooling == "last":  # inputs are right padded; the mask, not the pad id, marks the end
        last = attention_mask.sum(dim=1) - 1
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    raise ValueError(f"cannot pool {pooling!r} outside the model's own head")


_CODE = '''"""Written by rewardtrain.ml: {arch} with its reward read by {pooling} pooling.

Load with AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).
"""

import torch
from transformers import {arch}
from transformers.modeling_outputs import SequenceClassifierOutput


class {cls}({arch}):
    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        extra = {{}} if token_type_ids is None else {{"token_type_ids": token_type_ids}}
        backbone = getattr(self, self.base_model_prefix)
        hidden = backbone(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        if "{pooling}" == "mean":
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        else:
            last = attention_mask.sum(dim=1) - 1
            pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        return SequenceClassifierOutput(logits=self.{head}(pooled))
'''


def write_loading_code(folder: str, model, pooling: str) -> None:
    """Make plain transformers (with trust_remote_code) pool like ``pooling``; cls needs nothing."""
    config_path = os.path.join(folder, "config.json")
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    code_path = os.path.join(folder, CODE_FILE)
    if pooling == "cls":
        config.pop("auto_map", None)
        if os.path.exists(code_path):
            os.remove(code_path)
    else:
        arch = type(model).__name__
        cls = f"RewardPooled{arch}"
        with open(code_path, "w", encoding="utf-8") as handle:
            handle.write(_CODE.format(arch=arch, cls=cls, pooling=pooling, head=head_name(model)))
        config["auto_map"] = {"AutoModelForSequenceClassification": f"{CODE_FILE[:-3]}.{cls}"}
    with open(config_path, "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2)
