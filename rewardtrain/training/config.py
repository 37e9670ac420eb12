"""A run's config: TrainConfig fields a user may set, checked before the run is created.

The worker fills in the paths (data, eval_data, out, checkpoint_dir) and decides resume itself,
so those are not user settings.  Types are checked here because the dataclass does not: a typo
or a string where a number belongs must be a 400 now, not a failed run later.
"""
import dataclasses
import math
import typing

from rewardtrain.ml.config import TrainConfig

RESERVED = ("data", "eval_data", "out", "checkpoint_dir", "resume", "progress_bar")
# Small defaults for runs started in the app: one pass over the snapshot, frequent checkpoints so a
# lost worker costs little.  The trainer picks CUDA and bf16 by itself when the hardware has them.
APP_DEFAULTS = {"epochs": 1.0, "save_every": 50, "max_length": 256}
# Beyond these a run only ties up a training worker for ever (or diverges at once): refused up front.
CEILINGS = {"epochs": 1000, "lr": 1.0, "max_steps": 100_000_000}
_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


class ConfigError(ValueError):
    """A config the trainer would refuse; the message names the key."""


def _check_type(key: str, value, annotation: str) -> None:
    kinds = {part.strip() for part in annotation.split("|")}
    if value is None:
        if "None" not in kinds:
            raise ConfigError(f"config.{key} may not be null.")
        return
    ok = (("bool" in kinds and isinstance(value, bool))
          or ("int" in kinds and isinstance(value, int) and not isinstance(value, bool))
          or ("float" in kinds and isinstance(value, (int, float)) and not isinstance(value, bool))
          or ("str" in kinds and isinstance(value, str))
          or ("list[str]" in kinds and isinstance(value, list) and all(isinstance(v, str) for v in value)))
    if not ok:
        wanted = " or ".join(sorted(k for k in kinds if k != "None"))
        raise ConfigError(f"config.{key} must be {wanted}, got {value!r}.")


def config_validate(*, config: dict) -> dict:
    """The effective config (app defaults + the user's keys) or ConfigError with a specific message."""
    if not isinstance(config, dict):
        raise ConfigError("config must be an object of TrainConfig fields.")
    for key in sorted(config):
        if key in RESERVED:
            raise ConfigError(f"config.{key} is set by the worker and cannot be given.")
        if key not in _FIELDS:
            raise ConfigError(f"Unknown config key {key!r}; see TrainConfig for the fields.")
        _check_type(key, config[key], str(_FIELDS[key].type))
    merged = {**APP_DEFAULTS, **config}
    numbers = {"epochs": 0, "lr": 0, "max_steps": 0, "save_every": -1, "eval_every": -1}
    for key, floor in numbers.items():
        value = merged.get(key)
        if value is None:
            continue
        if not math.isfinite(value) or value <= floor:
            raise ConfigError(f"config.{key} must be a finite number greater than {floor}, got {value!r}.")
        if key in CEILINGS and value > CEILINGS[key]:
            raise ConfigError(f"config.{key} must be at most {CEILINGS[key]:g}, got {value:g}.")
    seed = merged.get("seed")
    if seed is not None and not 0 <= seed < 2**32:  # numpy's seed range; the trainer would fail on start
        raise ConfigError(f"config.seed must be a whole number from 0 to {2**32 - 1}, got {seed}.")
    try:
        TrainConfig.from_dict({**merged, "data": "train.jsonl", "out": "model"})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Invalid config: {exc}.") from None
    return merged


def config_for_worker(*, config: dict, data: str, eval_data: str | None, out: str, checkpoint_dir: str
                      ) -> TrainConfig:
    return TrainConfig.from_dict({**config, "data": data, "eval_data": eval_data, "out": out,
                                  "checkpoint_dir": checkpoint_dir, "resume": True, "progress_bar": False})


def parse_assignment(text: str) -> tuple[str, typing.Any]:
    """key=value from the command line; the value is read as JSON when it parses, else as text."""
    import json

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"Expected key=value, got {text!r}.")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value
