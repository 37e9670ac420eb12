"""Resumable checkpoints: model, optimizer, scheduler, histories and every rank's RNG streams.

Files are written under a temporary name and renamed, so a kill mid-write never leaves a torn
checkpoint.  Each rank keeps its own RNG stream (``rng_<rank>.pt``); rank 0 also writes the
shared state (``state.pt``).
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

STATE_FILE = "state.pt"


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


def _replace(obj, path: str) -> None:
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)


def save_checkpoint(path: str, rank: int, step: int, model, optimizer, scheduler, histories: dict) -> None:
    """Write this rank's part of the checkpoint after ``step`` optimizer steps (call on every rank,
    then barrier)."""
    os.makedirs(path, exist_ok=True)
    _replace(_rng_state(), os.path.join(path, f"rng_{rank}.pt"))
    if rank == 0:
        state = {
            "step": step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            **histories,
        }
        _replace(state, os.path.join(path, STATE_FILE))


def load_checkpoint(path: str, rank: int, model, optimizer, scheduler) -> tuple[int, dict]:
    """Restore what :func:`save_checkpoint` wrote; returns (steps done, histories), or (0, {})
    when there is no checkpoint."""
    state_file = os.path.join(path, STATE_FILE)
    if not os.path.exists(state_file):
        return 0, {}
    state = torch.load(state_file, map_location="cpu", weights_only=False)
    model.load_state_dict(state.pop("model"))
    optimizer.load_state_dict(state.pop("optimizer"))
    scheduler.load_state_dict(state.pop("scheduler"))
    rng_file = os.path.join(path, f"rng_{rank}.pt")
    if os.path.exists(rng_file):
        _set_rng_state(torch.load(rng_file, weights_only=False))
    return int(state.pop("step")), state
