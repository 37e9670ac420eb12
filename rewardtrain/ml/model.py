"""Loading a backbone as a reward model, scoring batches, and saving the model folder.

The saved folder is a plain Hugging Face sequence-classification model (``num_labels`` = 1 +
number of criterion heads; output 0 is the overall reward) plus ``rewardtrain.json``, which
records the input format, the head names and the reward normalization.
"""

from __future__ import annotations

import json
import os

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

from .formatting import InputFormat
from .pooling import linear_head, pool, write_loading_code

META_FILE = "rewardtrain.json"
OVERALL = "overall"


def is_encoder(config) -> bool:
    """Encoders (BERT family) read a text pair; everything else is treated as a decoder."""
    return config.model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES and not getattr(config, "is_encoder_decoder", False)


def load_tokenizer(name: str):
    tokenizer = AutoTokenizer.from_pretrained(name)
    if tokenizer.pad_token is None:
        # Decoders usually ship without a pad token; eos is the standard stand-in, and scoring by
        # attention mask (not by searching for pad ids) keeps that safe.
        if tokenizer.eos_token is None:
            raise ValueError(f"tokenizer of {name} has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


def load_model(name: str, heads: list[str] | None = None, *, disable_dropout: bool = False):
    """Load ``name`` for sequence classification; ``heads`` sets the outputs (training).

    With ``heads=None`` the head layout stored in the folder is kept (evaluation and scoring).
    """
    tokenizer = load_tokenizer(name)
    kwargs: dict = {"dtype": torch.float32}
    if heads is not None:
        kwargs.update(
            num_labels=len(heads),
            id2label=dict(enumerate(heads)),
            label2id={h: i for i, h in enumerate(heads)},
            # Starting from an existing reward model with another head count is fine: the head is new.
            ignore_mismatched_sizes=True,
        )
    model = AutoModelForSequenceClassification.from_pretrained(name, **kwargs)
    model.config.get_text_config().pad_token_id = tokenizer.pad_token_id
    if disable_dropout:
        for module in model.modules():
            if isinstance(module, nn.Dropout):
                module.p = 0.0
    return model, tokenizer


def default_format(config, input_format: str, max_length: int, tokenizer) -> InputFormat:
    encoder = is_encoder(config)
    kind = input_format if input_format != "auto" else ("pair" if encoder else "concat")
    limit = getattr(tokenizer, "model_max_length", None) or max_length
    positions = getattr(config.get_text_config(), "max_position_embeddings", None) or max_length
    return InputFormat(kind=kind, max_length=min(max_length, limit, positions), last_token_pooling=not encoder)


class RewardScorer(nn.Module):
    """``forward`` returns one row of head outputs per input sequence, in float32.

    ``pooling`` (see :mod:`rewardtrain.ml.pooling`) picks the hidden states the head reads.
    Decoders are read at the last position the attention mask marks as real (inputs are right
    padded), not at "the last token that is not pad", which breaks when pad == eos.  Wrapping the
    whole computation in one module keeps DistributedDataParallel's hooks in the path.
    """

    def __init__(self, model, last_token_pooling: bool, pooling: str | None = None):
        super().__init__()
        self.model = model
        self.pooling = pooling or ("last" if last_token_pooling else "cls")
        if self.pooling != "cls" and linear_head(model) is None:
            self.pooling = "cls"  # no linear head to pool into: the architecture's own head
        self.last_token_pooling = self.pooling == "last"

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        if self.pooling != "cls":
            backbone = getattr(self.model, self.model.base_model_prefix)
            if self.pooling == "last":
                extra["use_cache"] = False
            hidden = backbone(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
            return linear_head(self.model)(pool(hidden, attention_mask, self.pooling)).float()
        return self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits.float()


def save_model_folder(out: str, model, tokenizer, meta: dict, *, custom_pooling: str | None = None) -> None:
    """``custom_pooling`` ("mean" or "last") when the head reads other hidden states than the
    architecture's own classification model does; the folder then carries its loading code."""
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    write_loading_code(out, model, custom_pooling or "cls")
    with open(os.path.join(out, META_FILE), "w", encoding="utf-8") as handle:
        json.dump(meta, handle, indent=2)


def read_meta(folder: str) -> dict | None:
    path = os.path.join(folder, META_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def load_reward_model(folder: str, max_length: int = 512):
    """Load any reward-model folder: ours (with rewardtrain.json) or a plain HF one."""
    model, tokenizer = load_model(folder)
    model.eval()
    meta = read_meta(folder) or {}
    if "format" in meta:
        fmt = InputFormat.from_dict(meta["format"])
    else:
        fmt = default_format(AutoConfig.from_pretrained(folder), "auto", max_length, tokenizer)
    # Output 0 is the overall reward by convention, also for folders trained elsewhere.
    heads = meta.get("heads") or [OVERALL] + [str(model.config.id2label.get(i, f"head_{i}")) for i in range(1, model.config.num_labels)]
    return model, tokenizer, fmt, heads, meta
