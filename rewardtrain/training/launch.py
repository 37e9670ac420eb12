"""Multi-GPU runs: the trainer under ``torchrun`` in a child process group, its events tailed from a file.

``VERDICT_TRAINING_DDP``: ``auto`` (default: torchrun with one process per GPU when this worker
sees more than one), ``off`` (always in-process), or ``force:N`` (N processes even on the CPU,
with gloo; for tests). The child writes every rank-0 event as a JSON line (``python -m
rewardtrain.ml train --events``); the runner feeds each line to the same callback as the
in-process path, so metrics, heartbeat, checkpoint uploads and cancel behave the same. When the
callback raises (cancel, claim lost) the whole process group is terminated; the model folder and
checkpoints land in the same local paths as in-process.
"""
import json
import logging
import os
import signal
import subprocess
import sys
import time

from django.conf import settings

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2


def ddp_processes() -> int:
    """How many processes to train with (1: in-process, no torchrun)."""
    mode = str(getattr(settings, "VERDICT_TRAINING_DDP", "auto")).strip().lower()
    if mode == "off":
        return 1
    if mode.startswith("force:"):
        return max(1, int(mode.split(":", 1)[1]))
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return count if count > 1 else 1


def torchrun_command(*, nproc: int, config_file: str, events: str, data: str, out: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "rewardtrain.ml", "train", "--config-file", config_file, "--events", events,
            "--data", data, "--out", out]


def _stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def train_under_torchrun(config, *, callback, nproc: int, folder: str, idle=None) -> None:
    """Trains ``config`` (a TrainConfig) with ``nproc`` ranks; raises what the callback raises, or
    RuntimeError with the end of the child's output when it fails."""
    config_file, events, log_path = (os.path.join(folder, name) for name in
                                     ("ddp-config.json", "ddp-events.jsonl", "ddp.log"))
    with open(config_file, "w", encoding="utf-8") as handle:
        json.dump(config.to_dict(), handle)
    open(events, "w").close()
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "PYTHONUNBUFFERED": "1"}
    env.pop("WORLD_SIZE", None)  # torchrun sets the ranks; a stale one from the worker must not leak in
    command = torchrun_command(nproc=nproc, config_file=config_file, events=events, data=config.data, out=config.out)
    log.info("Training under torchrun: %s", " ".join(command))
    with open(log_path, "wb") as output, open(events, encoding="utf-8") as stream:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)  # its own group: cancel stops every rank
        pending = ""
        try:
            while True:
                finished = process.poll() is not None
                pending += stream.read()
                *lines, pending = pending.split("\n")
                for line in lines:
                    if line.strip():
                        callback(json.loads(line))
                if finished:
                    break
                if idle is not None:
                    idle()  # cancel checks between events (a long step sends none)
                time.sleep(POLL_SECONDS)
        except BaseException:
            _stop(process)
            raise
    if process.returncode != 0:
        with open(log_path, "rb") as handle:
            tail = handle.read()[-2000:].decode("utf-8", "replace")
        raise RuntimeError(f"torchrun with {nproc} processes exited with {process.returncode}: {tail}")
