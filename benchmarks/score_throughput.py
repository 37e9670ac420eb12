"""Batch-scoring throughput against a plain per-text ``transformers`` loop, in fp32, side by side.

    nice -n 5 .venv/bin/python benchmarks/score_throughput.py [--rows 96] [--repeats 3] [--threads 1]
        [--budgets 1024,2048,4096] [--compile-budget 2048] [--no-compile]

Same model folder (the packaged all-MiniLM-L6-v2 trained 4 steps by rewardtrain.ml.train, as
score_latency.py builds it), same rows, same torch threads, everything warm (each variant runs once
before the timed runs). Two row sets:

* ``synthetic``: --rows (prompt of 20 words, response of 105-125 words), ~175 tokens each, uniform;
* ``hh``: the first --rows/2 rows of ../shared/data/hh-harmless-dev.jsonl, chosen and rejected
  (real dialogues, 40 to 512 tokens).

Variants: ``loop`` (tokenizer + AutoModelForSequenceClassification, one text at a time),
``batch-N`` (rewardtrain.ml.RewardModel.score, length-sorted batches of N padded tokens, eager),
``compiled-N`` (the same with ``compile=True``: torch.compile, inductor, dynamic shapes, freezing;
its compile time is measured on the warm-up call). Each repeat runs every variant once in turn, so
ratios are taken within one repeat under the same load; the medians over repeats are printed with
the largest reward difference to the loop and the load average, then one JSON object.
"""
import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
DATA = ROOT.parent / "shared" / "data" / "hh-harmless-dev.jsonl"


def row_sets(n: int) -> dict[str, list[tuple[str, str]]]:
    from score_latency import text

    rng = random.Random(9)
    synthetic = [(text(rng, 20), text(rng, rng.randint(105, 125))) for _ in range(n)]
    hh = []
    with open(DATA, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            hh += [(row["prompt"], row["chosen"]), (row["prompt"], row["rejected"])]
            if len(hh) >= n:
                break
    return {"synthetic": synthetic, "hh": hh[:n]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--budgets", default="1024,2048,4096")
    parser.add_argument("--compile-budget", type=int, default=2048)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--model", default="/tmp/verdict-bench-score-model", help="model folder cache")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import torch

    torch.set_num_threads(args.threads)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from rewardtrain.ml import RewardModel

    work = Path(args.model)
    folder = str(work / "model")
    if not os.path.exists(os.path.join(folder, "rewardtrain.json")):
        from score_latency import build_model

        work.mkdir(parents=True, exist_ok=True)
        folder = build_model(work)
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; {os.cpu_count()} cores; torch "
          f"{torch.__version__}, {args.threads} thread(s); load average {os.getloadavg()}", flush=True)

    sets = row_sets(args.rows)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    plain = AutoModelForSequenceClassification.from_pretrained(folder).eval()

    def loop(rows):
        out = []
        with torch.inference_mode():
            for prompt, response in rows:
                enc = tokenizer(prompt, response, truncation=True, max_length=512, return_tensors="pt")
                out.append(float(plain(**enc).logits[0, 0]))
        return out

    variants = {"loop": loop}
    for budget in [int(b) for b in args.budgets.split(",") if b]:
        model = RewardModel(folder, bf16=False, batch_tokens=budget)
        model.batch_tokens = budget  # the constructor raises it to max_length at least; keep N as asked
        variants[f"batch-{budget}"] = (lambda m: lambda rows: m.score([p for p, _ in rows], [r for _, r in rows])[:, 0].tolist())(model)
    compile_s = {}
    if not args.no_compile:
        compiled = RewardModel(folder, bf16=False, batch_tokens=args.compile_budget, compile=True)
        compiled.batch_tokens = args.compile_budget
        name = f"compiled-{args.compile_budget}"
        variants[name] = lambda rows: compiled.score([p for p, _ in rows], [r for _, r in rows])[:, 0].tolist()
        for set_name, rows in sets.items():  # the first call compiles: its time is the compile cost
            tick = time.perf_counter()
            variants[name](rows)
            compile_s[set_name] = round(time.perf_counter() - tick, 1)
        print(f"compile ({compiled.compiled}): first call {compile_s} s", flush=True)

    reference, times = {}, {s: {v: [] for v in variants} for s in sets}
    for set_name, rows in sets.items():  # warm every variant; the loop's rewards are the reference
        for name, fn in variants.items():
            out = fn(rows)
            if name == "loop":
                reference[set_name] = out
    diffs = {s: {} for s in sets}
    loads = []
    for repeat in range(args.repeats):
        for set_name, rows in sets.items():
            for name, fn in variants.items():
                tick = time.perf_counter()
                out = fn(rows)
                times[set_name][name].append(time.perf_counter() - tick)
                diffs[set_name][name] = max(abs(a - b) for a, b in zip(out, reference[set_name]))
        loads.append(os.getloadavg()[0])
        print(f"repeat {repeat + 1}: " + "; ".join(
            f"{s} " + " ".join(f"{v} {len(sets[s]) / times[s][v][-1]:.1f}" for v in variants) for s in sets)
            + f" rows/s; load {loads[-1]:.2f}", flush=True)

    result = {"threads": args.threads, "rows": {s: len(r) for s, r in sets.items()}, "compile_seconds": compile_s,
              "load_average_per_repeat": loads, "sets": {}}
    for set_name, rows in sets.items():
        out = {}
        for name in variants:
            ratios = [lt / vt for lt, vt in zip(times[set_name]["loop"], times[set_name][name])]
            out[name] = {"median_rows_per_s": round(len(rows) / statistics.median(times[set_name][name]), 2),
                         "median_ratio_vs_loop": round(statistics.median(ratios), 2),
                         "ratios": [round(r, 2) for r in ratios],
                         "max_reward_difference": float(f"{diffs[set_name][name]:.2e}")}
            print(f"{set_name:9s} {name:14s} {out[name]['median_rows_per_s']:7.2f} rows/s  "
                  f"{out[name]['median_ratio_vs_loop']:.2f}x loop (per repeat {out[name]['ratios']})  "
                  f"max |Δreward| {diffs[set_name][name]:.1e}", flush=True)
        result["sets"][set_name] = out
    print(json.dumps(result))


if __name__ == "__main__":
    main()
