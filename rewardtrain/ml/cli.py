"""``python -m rewardtrain.ml {train,evaluate,score}``.

Bad input (missing file, bad JSON line, missing field, unusable model folder) prints one line
``error: file:line: field 'x': problem`` and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rewardtrain.ml", description="Train, evaluate and apply reward models.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a reward model")
    t.add_argument("--data", required=True, help="training JSONL or Parquet")
    t.add_argument("--eval", dest="eval_data", help="held-out JSONL or Parquet, evaluated periodically")
    t.add_argument("--model", help="Hugging Face model id or folder (default: packaged all-MiniLM-L6-v2)")
    t.add_argument("--out", required=True, help="output model folder")
    t.add_argument("--epochs", type=float, default=1.0)
    t.add_argument("--max-steps", type=int)
    t.add_argument("--lr", type=float, default=5e-5)
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--warmup-ratio", type=float, default=0.05)
    t.add_argument("--grad-accum", type=int, default=1)
    t.add_argument("--max-length", type=int, default=512)
    t.add_argument("--input-format", choices=["auto", "pair", "concat"], default="auto")
    t.add_argument("--batch-tokens", type=int, default=8192, help="padded tokens per micro-batch")
    t.add_argument("--max-batch-pairs", type=int, help="cap on comparisons per micro-batch")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--margin-scale", type=float, default=0.0, help="subtract SCALE*margin (Llama 2 style)")
    t.add_argument("--tie-loss", choices=["rao-kupper", "davidson"], default="rao-kupper")
    t.add_argument("--tie-epsilon", type=float, default=1.0)
    t.add_argument("--center-rewards", type=float, default=0.0)
    t.add_argument("--criterion-heads", action="store_true", help="one extra output per rubric criterion")
    t.add_argument("--eval-every", type=int, default=0, help="steps between evaluations (0: every epoch)")
    t.add_argument("--save-every", type=int, default=100, help="steps between checkpoints (0: never)")
    t.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    t.add_argument("--no-bf16", action="store_true", help="train in fp32 even where bf16 autocast is available")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    e = sub.add_parser("evaluate", help="print a JSON evaluation report")
    e.add_argument("--model", required=True, help="model folder")
    e.add_argument("--data", required=True, help="preference JSONL or Parquet")
    e.add_argument("--diagram", help="write a reliability diagram PNG here")

    s = sub.add_parser("score", help="score responses")
    s.add_argument("--model", required=True, help="model folder")
    s.add_argument("--data", required=True, help="JSONL/Parquet rows with prompt and response(s)")
    s.add_argument("--out", required=True, help="output JSONL")
    return parser


def _train(args) -> dict:
    from .config import TrainConfig
    from .trainer import train

    config = TrainConfig(
        data=args.data, out=args.out, eval_data=args.eval_data, model=args.model, epochs=args.epochs,
        max_steps=args.max_steps, lr=args.lr, weight_decay=args.weight_decay, warmup_ratio=args.warmup_ratio,
        grad_accum=args.grad_accum, seed=args.seed, max_length=args.max_length, input_format=args.input_format,
        batch_tokens=args.batch_tokens, max_batch_pairs=args.max_batch_pairs, margin_scale=args.margin_scale,
        tie_loss=args.tie_loss, tie_epsilon=args.tie_epsilon, center_rewards=args.center_rewards,
        criterion_heads=args.criterion_heads, eval_every=args.eval_every, save_every=args.save_every,
        resume=not args.no_resume, bf16=not args.no_bf16, progress_bar=not args.quiet,
    )

    def report(event: dict) -> None:
        if event["event"] == "eval":
            m = event["metrics"]
            print(f"[eval step {event['step']}] accuracy={m['accuracy']} loss={m['loss']:.4f} ece={m['ece']:.4f}", file=sys.stderr)
        elif event["event"] == "start" and event["truncated_prompts"] + event["truncated_responses"]:
            print(f"note: {event['truncated_prompts']} prompts cut at the start and {event['truncated_responses']} "
                  f"responses cut at the end to fit max_length (no row dropped)", file=sys.stderr)

    result = train(config, callback=report)
    return {k: v for k, v in result.metrics.items() if k != "history"}


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
            report = evaluate_model(args.model, args.data, diagram=args.diagram)
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
