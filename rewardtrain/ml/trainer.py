"""The training loop: plain PyTorch, resumable, single process or DDP (torchrun).

Progress goes out through ``callback(dict)`` on rank 0 only (so a Celery task can write it to the
database); events are ``start``, ``step``, ``eval``, ``checkpoint`` and ``done``.  Raising from
the callback stops training; the last checkpoint stays on disk and ``train`` resumes from it.

The loop is made of pieces that an orchestrator can also call itself (``_train`` below is
exactly this, plus a progress bar)::

    run = setup(config)                      # device, precision, data, model, optimizer, plan, resume
    emit(start_event(run))
    for step in range(run.start, run.total_steps):
        emit(train_step(run, step))          # one optimizer step -> the "step" event
        done = run.done = step + 1
        if should_evaluate(run, done):       # the last step too: a best-checkpoint candidate
            evaluate(run, done, emit)
            if run.best.should_stop and done < run.total_steps:
                break                        # early stopping
        if should_checkpoint(run, done):
            checkpoint(run, done, emit)
    result = finish(run, emit)               # best weights, temperature, normalization, model folder,
                                             # final eval, metrics.json
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from transformers import get_scheduler

from .batching import EncodedData, collate, encode_groups, length_grouped_batches, shard
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import load_groups
from .evaluate import pair_metrics
from .formatting import Formatter, InputFormat
from .hardware import Precision, choose_precision, pick_device, scoring_precision
from .length_head import LengthHead, response_lengths
from .loss import preference_loss
from .model import OVERALL, RewardScorer, default_format, is_encoder, load_model, save_model_folder
from .plots import reliability_diagram
from .pooling import resolve_pooling
from .score import normalization, predict
from .validation import BestWeights, split_validation

Callback = Callable[[dict[str, Any]], None]
EVAL_KEYS = ("accuracy", "loss", "ece", "calibrated_loss")  # what each evaluation adds to metrics["history"]


def _ignore(event: dict) -> None:
    pass


@dataclass
class TrainResult:
    out: str  # the model folder
    metrics: dict  # what metrics.json holds
    steps: int
    model: Any  # the trained Hugging Face model (unwrapped), on every rank


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @classmethod
    def setup(cls) -> "_Dist":
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls()
        owns = False
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank)  # NCCL needs each rank on its own GPU before init
        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
            owns = True
        return cls(dist.get_rank(), dist.get_world_size(), local_rank, owns)

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


@dataclass
class Run:
    """Everything a run holds between steps; built by :func:`setup`."""

    config: TrainConfig
    ctx: _Dist
    device: torch.device
    precision: Precision  # training's autocast
    heads: list[str]
    tokenizer: Any
    fmt: InputFormat
    formatter: Formatter
    data: EncodedData
    eval_data: EncodedData | None
    scorer: RewardScorer
    wrapped: torch.nn.Module  # the scorer, or its DDP wrapper
    optimizer: torch.optim.Optimizer
    scheduler: Any
    plan: list[tuple[int, list[list[int]]]]  # per optimizer step: (epoch, micro-batches)
    start: int = 0  # steps already done (resumed)
    history: list[dict] = field(default_factory=list)  # one entry per evaluation
    train_history: list[dict] = field(default_factory=list)  # one entry per optimizer step
    pairs_done: int = 0
    seconds: float = 0.0  # in optimizer steps only
    last: dict = field(default_factory=dict)  # the last step event
    pooling: str = "cls"  # what the head reads (rewardtrain.ml.pooling)
    custom_pooling: str | None = None  # pooling the architecture's own head does not do
    length_head: LengthHead | None = None  # config.length_head
    best: BestWeights = field(default_factory=BestWeights)  # best validation weights so far
    temperature: float = 1.0  # fitted on the validation pairs in finish()
    done: int = 0  # steps done (less than total_steps after early stopping)
    # (step, eval-set scores) of the last evaluation: finish() reuses them when the kept weights are
    # those weights, instead of scoring the validation set twice more (calibration, final report).
    eval_scores: tuple[int, np.ndarray] | None = None

    @property
    def total_steps(self) -> int:
        return len(self.plan)

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id

    @property
    def head_of(self) -> dict[str, int]:
        return {h: i for i, h in enumerate(self.heads) if i > 0}

    @property
    def pairs_per_second(self) -> float | None:
        return self.pairs_done / self.seconds if self.seconds else None


def _plan(data: EncodedData, config: TrainConfig, rank: int, world: int) -> list[tuple[int, list[list[int]]]]:
    """Every optimizer step as (epoch, micro-batches), fixed up front so the LR schedule knows its
    length and a resumed run can skip straight to its step."""
    steps = []
    for epoch in range(math.ceil(config.epochs)):
        batches = shard(
            length_grouped_batches(data, config.batch_tokens, config.seed, epoch, config.max_batch_pairs), rank, world
        )
        epoch_steps = [batches[i : i + config.grad_accum] for i in range(0, len(batches), config.grad_accum)]
        if epoch + 1 > config.epochs:  # fractional last epoch
            epoch_steps = epoch_steps[: math.ceil(len(epoch_steps) * (config.epochs - epoch))]
        steps += [(epoch, micro) for micro in epoch_steps]
        if config.max_steps is not None and len(steps) >= config.max_steps:
            break  # planning epochs that max_steps cuts off could take for ever (epochs=1e9)
    if config.max_steps is not None:
        steps = steps[: config.max_steps]
    if not steps:
        raise ValueError("nothing to train: no steps planned (check epochs / max_steps)")
    return steps


def _criteria(config: TrainConfig, groups) -> list[str]:
    if not config.criterion_heads:
        return []
    found = sorted({g.criterion for g in groups if g.criterion})
    if config.criteria:
        missing = sorted(set(found) - set(config.criteria))
        if missing:
            raise ValueError(f"criteria in the data but not in config.criteria: {missing}")
        return list(config.criteria)
    return found


def _optimizer(scorer: RewardScorer, config: TrainConfig, device: torch.device,
               length_head: LengthHead | None = None) -> torch.optim.Optimizer:
    trainable = [p for p in scorer.parameters() if p.requires_grad]
    decay = [p for p in trainable if p.ndim >= 2]
    no_decay = [p for p in trainable if p.ndim < 2]  # biases and norms are not decayed
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if length_head is not None:
        # One scalar slope: at the backbone's learning rate it would barely move in one epoch.
        groups.append({"params": list(length_head.parameters()), "weight_decay": 0.0, "lr": config.lr * 1000})
    return torch.optim.AdamW(
        groups,
        lr=config.lr,
        # The fused kernel is ~3x faster than the per-tensor loop on CPU, where a step over the
        # embedding matrix is otherwise a sizeable share of a small model's step time.
        fused=device.type in ("cpu", "cuda"),
    )


def setup(config: TrainConfig, ctx: _Dist | None = None) -> Run:
    """Device and precision, data, model, optimizer, step plan; resumed from the checkpoint when
    ``config.resume`` and one exists."""
    ctx = ctx or _Dist()
    device = pick_device(local_rank=ctx.local_rank)
    precision = choose_precision(device, config.bf16)
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)  # before loading: the new head is initialised randomly

    groups = load_groups(config.data)
    eval_groups = load_groups(config.eval_data) if config.eval_data else None
    if eval_groups is None and config.val_fraction > 0:
        groups, eval_groups = split_validation(groups, config.val_fraction, config.seed)
        eval_groups = eval_groups or None
    heads = [OVERALL] + _criteria(config, groups)
    model, tokenizer = load_model(config.model_name, heads, disable_dropout=config.disable_dropout)
    fmt = default_format(model.config, config.input_format, config.max_length, tokenizer)
    formatter = Formatter(tokenizer, fmt)
    data = encode_groups(groups, formatter)
    eval_data = encode_groups(eval_groups, Formatter(tokenizer, fmt)) if eval_groups else None

    encoder = is_encoder(model.config)
    scorer = RewardScorer(model, fmt.last_token_pooling, resolve_pooling(config.pooling, encoder)).to(device)
    if scorer.pooling != "cls":
        # The architecture's own pooler (BERT's dense+tanh on [CLS]) is bypassed; frozen, it is
        # saved unchanged and DDP does not wait for gradients that never come.
        own_pooler = getattr(getattr(model, model.base_model_prefix), "pooler", None)
        if own_pooler is not None:
            own_pooler.requires_grad_(False)
    length_head = LengthHead(response_lengths(data), config.length_penalty).to(device) if config.length_head else None
    wrapped = scorer
    if ctx.world > 1:
        wrapped = torch.nn.parallel.DistributedDataParallel(scorer, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = _optimizer(scorer, config, device, length_head)
    plan = _plan(data, config, ctx.rank, ctx.world)
    scheduler = get_scheduler("linear", optimizer, int(config.warmup_ratio * len(plan)), len(plan))
    run = Run(config, ctx, device, precision, heads, tokenizer, fmt, formatter, data, eval_data, scorer, wrapped,
              optimizer, scheduler, plan, pooling=scorer.pooling, length_head=length_head,
              best=BestWeights(config.early_stopping_patience))
    run.custom_pooling = None if scorer.pooling == resolve_pooling("auto", encoder) else scorer.pooling
    if config.resume:
        run.start, saved = load_checkpoint(config.checkpoint_path, ctx.rank, scorer, optimizer, scheduler)
        run.history, run.train_history = saved.get("history", []), saved.get("train_history", [])
    run.done = run.start
    return run


def start_event(run: Run) -> dict:
    return {
        "event": "start", "total_steps": run.total_steps, "resumed_from": run.start, "pairs": run.data.n_pairs,
        "truncated_prompts": run.formatter.truncated_prompts, "truncated_responses": run.formatter.truncated_responses,
        "precision": run.precision.name, "precision_reason": run.precision.reason,
    }


def train_step(run: Run, step: int) -> dict:
    """Optimizer step ``step`` (0-based) of the plan: forward and backward over its micro-batches,
    clip, update; returns the ``step`` event."""
    config, ctx = run.config, run.ctx
    epoch, micro_batches = run.plan[step]
    tick = time.perf_counter()
    loss = correct = 0.0
    judged = pairs = 0
    for k, group_ids in enumerate(micro_batches):
        batch = collate(run.data, group_ids, run.pad_id, run.head_of).to(run.device)
        # Only the last micro-batch of a step needs DDP's gradient all-reduce.
        sync = k == len(micro_batches) - 1 or ctx.world == 1
        with contextlib.nullcontext() if sync else run.wrapped.no_sync():
            with run.precision.autocast(run.device):
                scores = run.wrapped(batch.input_ids, batch.attention_mask, batch.token_type_ids)
            scores = scores.float()
            if run.length_head is None:
                batch_loss, stats = preference_loss(scores, batch, config)
            else:
                # Preferences are explained by quality + length; only quality is penalised.
                total = scores + run.length_head.length_reward(batch.text_index).unsqueeze(1)
                batch_loss, stats = preference_loss(total, batch, config)
                penalty, _ = run.length_head.loss(scores[:, 0], batch.text_index)
                batch_loss = batch_loss + penalty
            (batch_loss / len(micro_batches)).backward()
        loss += stats["loss"] / len(micro_batches)
        correct += stats["correct"]
        judged += stats["judged"]
        pairs += len(batch.better)
    if run.length_head is not None and ctx.world > 1:  # not inside DDP: average its gradient by hand
        dist.all_reduce(run.length_head.slope.grad)
        run.length_head.slope.grad /= ctx.world
    if config.max_grad_norm:
        torch.nn.utils.clip_grad_norm_([p for p in run.scorer.parameters() if p.requires_grad], config.max_grad_norm)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    run.seconds += time.perf_counter() - tick
    run.pairs_done += pairs * ctx.world
    accuracy = correct / max(judged, 1)
    run.train_history.append({"step": step + 1, "split": "train", "loss": loss, "accuracy": accuracy})
    run.last = {
        "event": "step", "step": step + 1, "total_steps": run.total_steps, "epoch": epoch, "loss": loss,
        "accuracy": accuracy, "lr": run.scheduler.get_last_lr()[0], "pairs_per_second": run.pairs_per_second or 0.0,
    }
    return run.last


def should_evaluate(run: Run, done: int) -> bool:
    """After ``done`` steps: every ``eval_every`` steps, or at the end of each epoch when 0."""
    if run.eval_data is None:
        return False
    if done == run.total_steps:  # the last weights are a best-checkpoint candidate too
        return True
    if run.config.eval_every:
        return done % run.config.eval_every == 0
    return done == run.total_steps or run.plan[done][0] != run.plan[done - 1][0]


def evaluate(run: Run, done: int, emit: Callback = _ignore, *, final: bool = False,
             scores: np.ndarray | None = None) -> dict | None:
    """Score the eval set on rank 0, record it in the history, remember the weights when they are
    the best so far (``config.best_checkpoint``) and emit the ``eval`` event.  ``final`` is
    finish's report on the kept weights: it is neither recorded again nor a candidate."""
    if run.eval_data is None:
        return None
    metrics = None
    if run.ctx.rank == 0:
        scores = _predict(run, run.eval_data) if scores is None else scores
        options = {"tie_loss": run.config.tie_loss, "tie_epsilon": run.config.tie_epsilon}
        metrics = pair_metrics(scores, run.eval_data, run.heads, options, temperature=run.temperature)
        if not final:
            run.eval_scores = (done, scores)
            run.history.append({"step": done, "split": "eval", **{k: metrics[k] for k in EVAL_KEYS}})
            run.best.update(run.scorer.model, metrics["calibrated_loss"], done, keep=run.config.best_checkpoint)
        emit({"event": "eval", "step": done, "total_steps": run.total_steps, "metrics": metrics})
    if run.config.early_stopping_patience and run.ctx.world > 1:  # every rank stops together
        stop = torch.tensor([float(run.best.should_stop)])
        dist.broadcast(stop, 0)
        run.best.evaluations_since_best = run.config.early_stopping_patience if stop.item() else 0
    run.ctx.barrier()
    return metrics


def should_checkpoint(run: Run, done: int) -> bool:
    return bool(run.config.save_every) and done % run.config.save_every == 0 and done < run.total_steps


def checkpoint(run: Run, done: int, emit: Callback = _ignore) -> None:
    path = run.config.checkpoint_path
    histories = {"history": run.history, "train_history": run.train_history}
    save_checkpoint(path, run.ctx.rank, done, run.scorer, run.optimizer, run.scheduler, histories)
    run.ctx.barrier()
    emit({"event": "checkpoint", "step": done, "path": path})


def _predict(run: Run, data: EncodedData, rows: list[int] | None = None) -> np.ndarray:
    ids = data.ids if rows is None else [data.ids[i] for i in rows]
    types = data.types if rows is None else [data.types[i] for i in rows]
    # The same precision as evaluate_model / RewardModel, so their numbers agree with these.
    precision = scoring_precision(run.device)
    return predict(run.scorer, ids, types, run.pad_id, run.config.batch_tokens, run.device, precision)


def _reward_normalization(run: Run) -> dict:
    """Reward mean and std over (a sample of) the training responses, for z-scored rewards."""
    rng = np.random.default_rng(run.config.seed)
    n = len(run.data.ids)
    picked = np.sort(rng.choice(n, size=min(n, run.config.norm_samples), replace=False))
    return normalization(_predict(run, run.data, picked.tolist()))


def finish(run: Run, emit: Callback = _ignore) -> TrainResult:
    """Reward normalization, the model folder, the final evaluation, metrics.json; then the
    checkpoint is removed (a finished run must not "resume" at its end) and ``done`` emitted."""
    config, ctx = run.config, run.ctx
    metrics: dict = {}
    if ctx.rank == 0:
        restored = config.best_checkpoint and run.best.restore(run.scorer.model)
        kept_step = run.best.best_step if restored else run.done
        if run.eval_data is not None and not (run.eval_scores and run.eval_scores[0] == kept_step):
            run.eval_scores = (kept_step, _predict(run, run.eval_data))
        if run.eval_data is not None and config.calibrate:
            options = {"tie_loss": config.tie_loss, "tie_epsilon": config.tie_epsilon}
            run.temperature = pair_metrics(run.eval_scores[1], run.eval_data, run.heads, options)["fitted_temperature"]
        stats = _reward_normalization(run)
        fitted = run.eval_data is not None and config.calibrate
        meta = {
            "format": run.fmt.to_dict(),
            "pooling": run.pooling,
            # sigmoid((r_a - r_b) / temperature) is the calibrated P(a preferred to b)
            "calibration": {"temperature": run.temperature, "fitted_on": "validation split" if fitted else None,
                            "pairs": run.eval_data.n_pairs if fitted else 0},
            "best_step": run.best.best_step if restored else None,
            "length_head": run.length_head.to_dict() if run.length_head is not None else None,
            "heads": run.heads,
            "normalization": stats,
            "backbone": config.model_name,
            "train_config": config.to_dict(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        save_model_folder(config.out, run.scorer.model, run.tokenizer, meta, custom_pooling=run.custom_pooling)
        metrics["train"] = {
            "groups": len(run.data.groups), "pairs": run.data.n_pairs, "steps": run.done, "planned_steps": run.total_steps,
            "best_step": run.best.best_step if restored else None,
            "validation_pairs": run.eval_data.n_pairs if run.eval_data is not None else 0,
            "resumed_from": run.start, "epochs": config.epochs, "seconds": run.seconds,
            "pairs_per_second": run.pairs_per_second, "final_loss": run.last.get("loss"),
            "truncated_prompts": run.formatter.truncated_prompts,
            "truncated_responses": run.formatter.truncated_responses, "world_size": ctx.world,
            "precision": run.precision.name, "precision_reason": run.precision.reason,
        }
        metrics["normalization"] = stats
        metrics["history"] = run.history
    final_eval = evaluate(run, run.done, emit, final=True,
                          scores=run.eval_scores[1] if run.eval_scores is not None else None)
    if ctx.rank == 0:
        metrics["train_history"] = run.train_history
        if final_eval is not None:
            metrics["eval"] = final_eval
            reliability_diagram(final_eval["reliability"], os.path.join(config.out, "reliability.png"))
        with open(os.path.join(config.out, "metrics.json"), "w", encoding="utf-8") as handle:
            json.dump(metrics, handle, indent=2)
        if os.path.isdir(config.checkpoint_path):
            shutil.rmtree(config.checkpoint_path, ignore_errors=True)
        emit({"event": "done", "out": config.out, "metrics": metrics})
    ctx.barrier()
    return TrainResult(out=config.out, metrics=metrics, steps=run.done, model=run.scorer.model)


def train(config: TrainConfig, callback: Callback | None = None) -> TrainResult:
    """Train a reward model as ``config`` says and write the model folder to ``config.out``."""
    ctx = _Dist.setup()
    try:
        return _train(config, callback or _ignore, ctx)
    finally:
        if ctx.owns_group:
            dist.destroy_process_group()


def _train(config: TrainConfig, callback: Callback, ctx: _Dist) -> TrainResult:
    emit = callback if ctx.rank == 0 else _ignore
    run = setup(config, ctx)
    emit(start_event(run))
    bar = None
    if config.progress_bar and ctx.rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=run.total_steps, initial=run.start, desc="train", unit="step", dynamic_ncols=True)
    run.scorer.train()
    for step in range(run.start, run.total_steps):
        event = train_step(run, step)
        emit(event)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{event['loss']:.3f}", pairs_s=f"{event['pairs_per_second']:.1f}")
        done = run.done = step + 1
        if should_evaluate(run, done):
            evaluate(run, done, emit)
            if run.best.should_stop and done < run.total_steps:
                emit({"event": "early_stop", "step": done, "best_step": run.best.best_step})
                break
        if should_checkpoint(run, done):
            checkpoint(run, done, emit)
    if bar is not None:
        bar.close()
    return finish(run, emit)
