"""The training loop: plain PyTorch, resumable, single process or DDP (torchrun).

Progress goes out through ``callback(dict)`` on rank 0 only (so a Celery task can write it to the
database); events are ``start``, ``step``, ``eval``, ``checkpoint`` and ``done``.  Raising from
the callback stops training; the last checkpoint stays on disk and ``train`` resumes from it.
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
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from transformers import get_scheduler

from .batching import EncodedData, collate, encode_groups, length_grouped_batches, shard
from .config import TrainConfig
from .data import load_groups
from .evaluate import pair_metrics, reliability_diagram
from .formatting import Formatter
from .loss import preference_loss
from .model import OVERALL, RewardScorer, default_format, fast_bf16, load_model, save_model_folder
from .score import predict

Callback = Callable[[dict[str, Any]], None]
STATE_FILE = "state.pt"


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

    def sum(self, value: float) -> float:
        if self.world == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(tensor)
        return float(tensor.item())


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
    if config.max_steps is not None:
        steps = steps[: config.max_steps]
    if not steps:
        raise ValueError("nothing to train: no steps planned (check epochs / max_steps)")
    return steps


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_checkpoint(path: str, ctx: _Dist, step: int, model, optimizer, scheduler, history: list) -> None:
    # Each rank keeps its own RNG stream; rank 0 also writes the shared state.  Files are written
    # under a temporary name and renamed, so a kill mid-write never leaves a torn checkpoint.
    os.makedirs(path, exist_ok=True)
    rng_file = os.path.join(path, f"rng_{ctx.rank}.pt")
    torch.save(_rng_state(), rng_file + ".tmp")
    os.replace(rng_file + ".tmp", rng_file)
    if ctx.rank == 0:
        state = {
            "step": step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "history": history,
        }
        torch.save(state, os.path.join(path, STATE_FILE + ".tmp"))
        os.replace(os.path.join(path, STATE_FILE + ".tmp"), os.path.join(path, STATE_FILE))
    ctx.barrier()


def _load_checkpoint(path: str, ctx: _Dist, model, optimizer, scheduler) -> tuple[int, list]:
    state_file = os.path.join(path, STATE_FILE)
    if not os.path.exists(state_file):
        return 0, []
    state = torch.load(state_file, map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng_file = os.path.join(path, f"rng_{ctx.rank}.pt")
    if os.path.exists(rng_file):
        _set_rng_state(torch.load(rng_file, weights_only=False))
    return int(state["step"]), state["history"]


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


def _normalization(scorer, data: EncodedData, config: TrainConfig, pad_id: int, device) -> dict:
    rng = np.random.default_rng(config.seed)
    n = len(data.ids)
    picked = np.sort(rng.choice(n, size=min(n, config.norm_samples), replace=False))
    scores = predict(scorer, [data.ids[i] for i in picked], [data.types[i] for i in picked], pad_id, config.batch_tokens, device)
    return {"mean": scores.mean(0).tolist(), "std": scores.std(0).tolist(), "responses": int(len(picked))}


def train(config: TrainConfig, callback: Callback | None = None) -> TrainResult:
    """Train a reward model as ``config`` says and write the model folder to ``config.out``."""
    ctx = _Dist.setup()
    try:
        return _train(config, callback or (lambda event: None), ctx)
    finally:
        if ctx.owns_group:
            dist.destroy_process_group()


def _train(config: TrainConfig, callback: Callback, ctx: _Dist) -> TrainResult:
    emit = callback if ctx.rank == 0 else (lambda event: None)
    device = torch.device(f"cuda:{ctx.local_rank}" if torch.cuda.is_available() else "cpu")
    use_bf16 = config.bf16 and fast_bf16(device)
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)  # before loading: the new head is initialised randomly

    groups = load_groups(config.data)
    eval_groups = load_groups(config.eval_data) if config.eval_data else None
    heads = [OVERALL] + _criteria(config, groups)
    head_of = {h: i for i, h in enumerate(heads) if i > 0}
    model, tokenizer = load_model(config.model_name, heads, disable_dropout=config.disable_dropout)
    fmt = default_format(model.config, config.input_format, config.max_length, tokenizer)
    formatter = Formatter(tokenizer, fmt)
    data = encode_groups(groups, formatter)
    eval_data = encode_groups(eval_groups, Formatter(tokenizer, fmt)) if eval_groups else None
    pad_id = tokenizer.pad_token_id

    scorer = RewardScorer(model, fmt.last_token_pooling).to(device)
    wrapped = scorer
    if ctx.world > 1:
        wrapped = torch.nn.parallel.DistributedDataParallel(scorer, device_ids=[device.index] if device.type == "cuda" else None)
    decay = [p for p in scorer.parameters() if p.ndim >= 2]
    no_decay = [p for p in scorer.parameters() if p.ndim < 2]  # biases and norms are not decayed
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
        # The fused kernel is ~3x faster than the per-tensor loop on CPU, where a step over the
        # embedding matrix is otherwise a sizeable share of a small model's step time.
        fused=device.type in ("cpu", "cuda"),
    )
    plan = _plan(data, config, ctx.rank, ctx.world)
    scheduler = get_scheduler("linear", optimizer, int(config.warmup_ratio * len(plan)), len(plan))
    start, history = 0, []
    if config.resume:
        start, history = _load_checkpoint(config.checkpoint_path, ctx, scorer, optimizer, scheduler)

    def run_eval(step: int) -> dict | None:
        if eval_data is None:
            return None
        metrics = None
        if ctx.rank == 0:
            scores = predict(scorer, eval_data.ids, eval_data.types, pad_id, config.batch_tokens, device)
            metrics = pair_metrics(scores, eval_data, heads, {"tie_loss": config.tie_loss, "tie_epsilon": config.tie_epsilon})
            history.append({"step": step, **{k: metrics[k] for k in ("accuracy", "loss", "ece")}})
            emit({"event": "eval", "step": step, "total_steps": len(plan), "metrics": metrics})
        ctx.barrier()
        return metrics

    emit({"event": "start", "total_steps": len(plan), "resumed_from": start, "pairs": data.n_pairs,
          "truncated_prompts": formatter.truncated_prompts, "truncated_responses": formatter.truncated_responses})
    bar = None
    if config.progress_bar and ctx.rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=len(plan), initial=start, desc="train", unit="step", dynamic_ncols=True)
    scorer.train()
    pairs_done, seconds, last = 0, 0.0, {}
    for step in range(start, len(plan)):
        epoch, micro_batches = plan[step]
        tick = time.perf_counter()
        totals = {"loss": 0.0, "correct": 0.0, "judged": 0, "pairs": 0}
        for k, group_ids in enumerate(micro_batches):
            batch = collate(data, group_ids, pad_id, head_of).to(device)
            # Only the last micro-batch of a step needs DDP's gradient all-reduce.
            sync = k == len(micro_batches) - 1 or ctx.world == 1
            with contextlib.nullcontext() if sync else wrapped.no_sync():
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                    scores = wrapped(batch.input_ids, batch.attention_mask, batch.token_type_ids)
                loss, stats = preference_loss(scores.float(), batch, config)
                (loss / len(micro_batches)).backward()
            totals["loss"] += stats["loss"] / len(micro_batches)
            totals["correct"] += stats["correct"]
            totals["judged"] += stats["judged"]
            totals["pairs"] += len(batch.better)
        if config.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(scorer.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        seconds += time.perf_counter() - tick
        pairs_done += totals["pairs"] * ctx.world
        done = step + 1
        last = {
            "event": "step", "step": done, "total_steps": len(plan), "epoch": epoch,
            "loss": totals["loss"], "accuracy": totals["correct"] / max(totals["judged"], 1),
            "lr": scheduler.get_last_lr()[0], "pairs_per_second": pairs_done / seconds if seconds else 0.0,
        }
        emit(last)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{last['loss']:.3f}", pairs_s=f"{last['pairs_per_second']:.1f}")
        end_of_epoch = done == len(plan) or plan[done][0] != epoch
        if (config.eval_every and done % config.eval_every == 0) or (not config.eval_every and end_of_epoch):
            if done < len(plan):  # the final evaluation happens below, after saving
                run_eval(done)
        if config.save_every and done % config.save_every == 0 and done < len(plan):
            _save_checkpoint(config.checkpoint_path, ctx, done, scorer, optimizer, scheduler, history)
            emit({"event": "checkpoint", "step": done, "path": config.checkpoint_path})
    if bar is not None:
        bar.close()

    metrics: dict = {}
    if ctx.rank == 0:
        normalization = _normalization(scorer, data, config, pad_id, device)
        meta = {
            "format": fmt.to_dict(),
            "heads": heads,
            "normalization": normalization,
            "backbone": config.model_name,
            "train_config": config.to_dict(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        save_model_folder(config.out, scorer.model, tokenizer, meta)
        metrics["train"] = {
            "groups": len(data.groups), "pairs": data.n_pairs, "steps": len(plan), "resumed_from": start,
            "epochs": config.epochs, "seconds": seconds, "pairs_per_second": pairs_done / seconds if seconds else None,
            "final_loss": last.get("loss"), "truncated_prompts": formatter.truncated_prompts,
            "truncated_responses": formatter.truncated_responses, "world_size": ctx.world,
        }
        metrics["normalization"] = normalization
        metrics["history"] = history
    final_eval = run_eval(len(plan))
    if ctx.rank == 0:
        if final_eval is not None:
            metrics["eval"] = final_eval
            reliability_diagram(final_eval["reliability"], os.path.join(config.out, "reliability.png"))
        with open(os.path.join(config.out, "metrics.json"), "w", encoding="utf-8") as handle:
            json.dump(metrics, handle, indent=2)
        # A finished run needs no checkpoint; leaving it would make a rerun "resume" at the end.
        if os.path.isdir(config.checkpoint_path):
            shutil.rmtree(config.checkpoint_path, ignore_errors=True)
        emit({"event": "done", "out": config.out, "metrics": metrics})
    ctx.barrier()
    return TrainResult(out=config.out, metrics=metrics, steps=len(plan), model=scorer.model)
