"""A per-process cache of loaded reward models, keyed by ModelVersion id.

Loading a model (torch, the tokenizer, the weights) takes seconds; scoring a few responses takes
milliseconds. So the processes that score (Celery workers on the ``scoring`` queue, and the
acquisition / batch jobs) keep the last few versions loaded. Model folders are immutable once
registered, so a cached copy never goes stale; a project's *active* version is looked up per call,
which is how a promotion switches scoring to the new model without a restart.
"""
from __future__ import annotations

import os
import tempfile
import threading
from collections import OrderedDict

from django.conf import settings
from django.core.files.storage import default_storage

from ..models import ModelVersion
from ..training.storage import storage_download_dir

_lock = threading.Lock()
_models: OrderedDict[int, object] = OrderedDict()


def _capacity() -> int:
    return int(getattr(settings, "VERDICT_SCORING_CACHE_MODELS", 2))


def model_folder(*, model_version: ModelVersion) -> str:
    """A local folder holding the version's files: the storage path itself when storage is a local
    directory, else a downloaded copy under the system temp dir (kept for the process's life)."""
    try:
        local = default_storage.path(model_version.artifact_dir)
    except NotImplementedError:
        local = None
    if local and os.path.isdir(local):
        return local
    target = os.path.join(tempfile.gettempdir(), "verdict-models", f"v{model_version.pk}")
    if not os.path.isdir(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        partial = tempfile.mkdtemp(prefix=f"v{model_version.pk}-", dir=os.path.dirname(target))
        storage_download_dir(prefix=model_version.artifact_dir, local=partial)
        try:
            os.rename(partial, target)
        except OSError:  # another thread or process won the race; its copy is complete
            pass
    return target


def loaded_model(*, model_version: ModelVersion):
    """The version's :class:`rewardtrain.ml.RewardModel`, loaded once per process (LRU of
    ``VERDICT_SCORING_CACHE_MODELS``, default 2)."""
    with _lock:
        model = _models.get(model_version.pk)
        if model is not None:
            _models.move_to_end(model_version.pk)
            return model
    from rewardtrain.ml import RewardModel  # torch is imported only by processes that score

    _set_threads()
    model = RewardModel(model_folder(model_version=model_version), **model_options())
    with _lock:
        _models[model_version.pk] = model
        _models.move_to_end(model_version.pk)
        while len(_models) > _capacity():
            _models.popitem(last=False)
    return model


def model_options() -> dict:
    """How scoring processes run a model (BENCHMARKS.md, "Scoring service", has the measurements):

    * VERDICT_SCORING_BF16 ``auto`` (default): bf16 where the hardware has it natively (GPUs, and CPUs
      with AVX512-BF16/AMX, where it scored 2.3x faster than fp32 with rewards within 3e-4); fp32
      elsewhere; ``off``: always fp32 (scores equal plain transformers exactly).
    * VERDICT_SCORING_BATCH_TOKENS: padded tokens per forward pass; 0 (default) is 1024 on a CPU, where
      small batches ran faster than large ones, and 16384 on a GPU.
    * VERDICT_SCORING_COMPILE (off by default): torch.compile the scorer (rewardtrain.ml.score.compile_scorer);
      the first call in each process compiles (155 s on the loaded 2-core CPU) and a failure falls back to
      eager. Measured no faster than eager batches in fp32 on that CPU, so it is not on by default.
    """
    import torch

    bf16 = str(getattr(settings, "VERDICT_SCORING_BF16", "auto")).lower() not in ("off", "0", "false", "no")
    tokens = int(getattr(settings, "VERDICT_SCORING_BATCH_TOKENS", 0)) or (16384 if torch.cuda.is_available() else 1024)
    return {"bf16": bf16, "batch_tokens": tokens, "compile": bool(getattr(settings, "VERDICT_SCORING_COMPILE", False))}


def _set_threads() -> None:
    """VERDICT_SCORING_TORCH_THREADS (0: torch's default, one per core). On a CPU host shared with other
    busy processes, fewer threads than cores avoids spinning threads waiting for each other (BENCHMARKS.md)."""
    threads = int(getattr(settings, "VERDICT_SCORING_TORCH_THREADS", 0))
    if threads > 0:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def cache_clear() -> None:
    with _lock:
        _models.clear()
