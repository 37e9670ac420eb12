"""Reward-model training engine (no Django): the code the GPU workers run.

Python API::

    from rewardtrain.ml import TrainConfig, train, evaluate_model, score_texts, RewardModel

    result = train(TrainConfig(data="train.jsonl", eval_data="val.jsonl", out="runs/rm1"),
                   callback=lambda event: print(event))   # -> TrainResult(out, metrics, steps, model)
    report = evaluate_model("runs/rm1", "val.jsonl", diagram="rel.png")   # -> dict of metrics
    rewards = score_texts("runs/rm1", prompts, responses, normalize=True)  # -> list[float]
    rm = RewardModel("runs/rm1"); rm.score(prompts, responses)            # load once, score often
    rm.preference_probability(r_a, r_b); rm.p_best(rewards)  # calibrated: sigmoid / softmax of r / T

``train(config, callback=None) -> TrainResult`` -- ``callback(event: dict)`` receives, on rank 0,
``{"event": "start"|"step"|"eval"|"checkpoint"|"done", ...}``; the start event carries
total_steps, resumed_from, pairs, truncation counts and ``precision`` ("bf16"/"fp32") with
``precision_reason``; step events carry step, total_steps, epoch, loss, accuracy, lr and
pairs_per_second.  Raising inside the callback stops the run; calling ``train`` again with the
same config resumes from the last checkpoint.  Under ``torchrun`` (WORLD_SIZE > 1) it trains
with DistributedDataParallel and rank 0 writes.  The loop's pieces (``setup``, ``train_step``,
``evaluate``, ``checkpoint``, ``finish``) are in :mod:`rewardtrain.ml.trainer`.

bf16 autocast is used only where the hardware runs it natively (:mod:`rewardtrain.ml.hardware`);
elsewhere fp32, and the choice is reported.

``evaluate_model(model, data, *, diagram=None, histogram=None, return_rewards=False,
batch_tokens=16384, bf16=None) -> dict`` and ``score_texts(model, prompts, responses, *,
head="overall", normalize=False) -> list[float]`` accept a model folder path or a loaded
``RewardModel``.  ``score_file(model, data, out)`` writes JSONL.  Plots (PNG):
``reliability_diagram``, ``reward_histograms``, ``training_curves`` (:mod:`rewardtrain.ml.plots`).
Data formats are described in :mod:`rewardtrain.ml.data`, the input layout in
:mod:`rewardtrain.ml.formatting`.  Bad data raises ``DataError`` ("file:line: field 'x': ...").

Output folder: config.json + model.safetensors + tokenizer files (loads with
``AutoModelForSequenceClassification.from_pretrained``, with ``trust_remote_code=True`` when
trained with mean pooling; output 0 is the overall reward, then one per criterion head),
rewardtrain.json (input format, pooling, heads, reward mean/std on training data, the
temperature fitted on the validation split, training config), metrics.json (train summary with precision, ``history`` of evaluations,
``train_history`` of steps, final ``eval``), and reliability.png when an eval set was given.
"""

from .config import TrainConfig
from .data import DataError, Group, load_groups

__all__ = [
    "DataError", "Group", "RewardModel", "TrainConfig", "TrainResult", "evaluate_model", "load_groups",
    "reliability_diagram", "reward_histograms", "score_file", "score_texts", "train", "training_curves",
]

# Heavy modules (torch, transformers) load on first use, so ``python -m rewardtrain.ml`` can set
# up the environment first and importing the package stays cheap for the Django side.
_LAZY = {
    "train": "trainer", "TrainResult": "trainer", "evaluate_model": "evaluate",
    "score_texts": "score", "score_file": "score", "RewardModel": "score",
    "reliability_diagram": "plots", "reward_histograms": "plots", "training_curves": "plots",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
