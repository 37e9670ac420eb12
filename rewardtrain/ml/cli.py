"""``python -m rewardtrain.ml {train,evaluate,score}``.

``train``'s options are built from the :class:`~rewardtrain.ml.config.TrainConfig` fields: one
``--field-name`` per field (help from the field's metadata, type and choices from its
annotation), booleans as ``--flag``/``--no-flag``, ``none`` for optional numbers.  Options that
are not given keep the dataclass default, so the two can never disagree.

Bad input (missing file, bad JSON line, missing field, unusable model folder) prints one line
``error: file:line: field 'x': problem`` and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import types
import typing

from .config import TrainConfig

EXIT_BAD_INPUT = 2


def _parse_type(hint) -> tuple[typing.Callable[[str], typing.Any], bool]:
    """(converter of one command-line value, whether the field is a list) for a field's type."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        convert, is_list = _parse_type(inner)

        def optional(text: str):
            return None if text.lower() == "none" else convert(text)

        optional.__name__ = convert.__name__  # argparse names the type in its error messages
        return optional, is_list
    if typing.get_origin(hint) is list:
        return _parse_type(args[0])[0], True
    return hint, False


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field; absent options stay absent (argparse.SUPPRESS)."""
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        meta = dict(f.metadata)
        flags = meta.get("flags") or ("--" + f.name.replace("_", "-"),)
        default = meta.get("cli_default", f.default)
        shown = "" if default in (None, dataclasses.MISSING) else f" (default: {default})"
        if hints[f.name] is bool:
            negative = meta.get("negative") or ("--no-" + flags[0][2:],)
            parser.add_argument(*flags, dest=f.name, action="store_true", default=argparse.SUPPRESS, help=meta["help"] + shown)
            parser.add_argument(*negative, dest=f.name, action="store_false", default=argparse.SUPPRESS,
                                help=f"the opposite of {flags[0]}")
            continue
        convert, is_list = _parse_type(hints[f.name])
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        parser.add_argument(
            *flags, dest=f.name, type=convert, nargs="+" if is_list else None, choices=meta.get("choices"),
            required=required, default=argparse.SUPPRESS, help=meta["help"] + shown,
            metavar=f.name.upper() if meta.get("choices") is None else None,
        )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    values = {f.name: f.metadata["cli_default"] for f in dataclasses.fields(TrainConfig) if "cli_default" in f.metadata}
    values.update({f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)})
    return TrainConfig(**values)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rewardtrain.ml", description="Train, evaluate and apply reward models.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a reward model", formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Options not given keep TrainConfig's defaults; booleans also take --no-...")
    _add_config_options(t)

    e = sub.add_parser("evaluate", help="print a JSON evaluation report")
    e.add_argument("--model", required=True, help="model folder")
    e.add_argument("--data", required=True, help="preference JSONL or Parquet")
    e.add_argument("--diagram", help="write a reliability diagram PNG here")
    e.add_argument("--histogram", help="write histograms of the chosen and rejected rewards (PNG) here")
    e.add_argument("--rewards", action="store_true", help="include every comparison's chosen/rejected reward")
    e.add_argument("--bf16", action="store_true", help="score in bf16 where the CPU has it natively (default fp32)")

    s = sub.add_parser("score", help="score responses")
    s.add_argument("--model", required=True, help="model folder")
    s.add_argument("--data", required=True, help="JSONL/Parquet rows with prompt and response(s)")
    s.add_argument("--out", required=True, help="output JSONL")
    return parser


def _train(args) -> dict:
    from .trainer import train

    config = config_from_args(args)

    def report(event: dict) -> None:
        if event["event"] == "eval":
            m = event["metrics"]
            # Length beside accuracy: a model not clearly above both baselines has mostly learnt length.
            fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
            print(f"[eval step {event['step']}] accuracy={m['accuracy']} loss={m['loss']:.4f} ece={m['ece']:.4f} "
                  f"length_r={fmt(m['length_correlation'])} longer_wins={fmt(m['longer_wins'])} "
                  f"shorter_wins={fmt(m['shorter_wins'])}", file=sys.stderr)
        elif event["event"] == "start":
            print(f"precision: {event['precision']} ({event['precision_reason']})", file=sys.stderr)
            if event["truncated_prompts"] + event["truncated_responses"]:
                print(f"note: {event['truncated_prompts']} prompts cut at the start and {event['truncated_responses']} "
                      f"responses cut at the end to fit max_length (no row dropped)", file=sys.stderr)

    result = train(config, callback=report)
    # The histories are in metrics.json; the summary on stdout stays readable.
    return {k: v for k, v in result.metrics.items() if k not in ("history", "train_history")}


def _check_folder(path: str) -> None:
    from .data import DataError

    if not os.path.isdir(path) or not os.path.exists(os.path.join(path, "config.json")):
        raise DataError(path, None, None, "not a model folder (no config.json)")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Workers must never download weights by surprise; export HF_HUB_OFFLINE=0 to allow it.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    from .data import DataError

    hf_logging.set_verbosity_error()
    try:
        if args.command == "train":
            report = _train(args)
        elif args.command == "evaluate":
            from .evaluate import evaluate_model

            _check_folder(args.model)
            report = evaluate_model(args.model, args.data, diagram=args.diagram, histogram=args.histogram,
                                    return_rewards=args.rewards, bf16=True if args.bf16 else None)
            print(f"precision: {report['precision']} ({report['precision_reason']})", file=sys.stderr)
        else:
            from .score import score_file

            _check_folder(args.model)
            report = {"rows": score_file(args.model, args.data, args.out), "out": args.out}
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OSError, ValueError) as exc:
        # Unknown model ids, unreadable folders, invalid settings: the message is the useful part.
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(report, indent=2))
    return 0
