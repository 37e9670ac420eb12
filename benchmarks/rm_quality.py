"""Reward-model quality on prompts it has never seen: k prompt-grouped folds, mean and spread.

    .venv/bin/python benchmarks/rm_quality.py [--data ../shared/data/hh-harmless-dev.jsonl]
        [--folds 5] [--only-folds 0,1] [--recipes default,trl,...] [--work DIR] [--table]
        [--jobs 1] [--threads 1]

On a shared machine run one job with one torch thread (``--jobs 1 --threads 1``) at ``nice``; the
train seconds are then not speed measurements (``benchmarks/trainer_vs_trl.py`` measures speed).

Every prompt goes to one of ``--folds`` test folds by a SHA-256 hash of its text, so no prompt
is ever both trained on and tested on.  For each fold, the other folds are split again by prompt
hash into train (90%) and validation (10%); every recipe, TRL included, trains on the same train
rows.  Validation is what a recipe may use for early stopping / best checkpoint and what the
temperature is fitted on; the test fold is only scored.  Reported per recipe, as mean ± sample
standard deviation over folds, and as the per-fold difference to the TRL row:

* accuracy -- share of test pairs with r(chosen) > r(rejected);
* ECE -- expected calibration error of sigmoid(r(chosen) - r(rejected)) (10 bins), raw and with
  the temperature fitted on that fold's validation pairs (``rewardtrain.ml.calibration``);
* length r -- Pearson correlation of the scoring reward with response length in characters, over
  all test responses (what ``evaluate_model`` reports as ``length_correlation``);
* the "shorter wins" baseline on the same test pairs.

Each (recipe, fold) runs in its own subprocess and appends one line to ``<work>/results.jsonl``;
an interrupted grid continues where it stopped, and ``--table`` just prints the table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = "../shared/data/hh-harmless-dev.jsonl"  # relative to the repository root
VAL_SHARE = 10  # percent of the non-test prompts held out as validation

# name -> how to train.  "ours" recipes are TrainConfig overrides on top of the defaults
# (plus max_length from the command line); "trl" uses benchmarks/trainer_vs_trl.py's TRL run.
# Recipes spell out what they change, so a row keeps its meaning when the defaults move.
ISSUE_DEFAULTS = {"pooling": "cls", "lr": 5e-5, "epochs": 1.0, "best_checkpoint": False}  # when issue 13 was filed
RECIPES: dict[str, dict] = {
    "default": {"kind": "ours", "config": ISSUE_DEFAULTS},
    "trl": {"kind": "trl", "epochs": 1.0, "lr": 1e-4, "batch_size": 16},
    # Mean pooling (how all-MiniLM-L6-v2 was trained to be read), TRL's learning rate, two epochs
    # evaluated after each epoch on the validation split, best checkpoint kept.
    "mean-2ep": {"kind": "ours", "config": {"pooling": "mean", "lr": 1e-4, "epochs": 2.0,
                                            "best_checkpoint": True}},
    "cls-2ep": {"kind": "ours", "config": {"pooling": "cls", "lr": 1e-4, "epochs": 2.0,
                                           "best_checkpoint": True}},
    "mean-2ep-length": {"kind": "ours", "config": {"pooling": "mean", "lr": 1e-4, "epochs": 2.0,
                                                   "best_checkpoint": True, "length_head": True}},
    # One change at a time against "default" (issue-13 defaults); a recipe's max_length, when
    # given, replaces --max-length.
    "lr1e-4": {"kind": "ours", "config": {**ISSUE_DEFAULTS, "lr": 1e-4}},
    "lr2e-5": {"kind": "ours", "config": {**ISSUE_DEFAULTS, "lr": 2e-5}},
    "mean": {"kind": "ours", "config": {**ISSUE_DEFAULTS, "pooling": "mean"}},
    "2ep-best": {"kind": "ours", "config": {**ISSUE_DEFAULTS, "epochs": 2.0, "best_checkpoint": True}},
    "len256": {"kind": "ours", "config": {**ISSUE_DEFAULTS, "max_length": 256}},
    "dropout": {"kind": "ours", "config": {**ISSUE_DEFAULTS, "disable_dropout": False}},
    # Weaker length decorrelation: the length head with a smaller penalty weight (lambda).
    "length-0.1": {"kind": "ours", "config": {**ISSUE_DEFAULTS, "length_head": True, "length_penalty": 0.1}},
    "length-0.3": {"kind": "ours", "config": {**ISSUE_DEFAULTS, "length_head": True, "length_penalty": 0.3}},
    "length-1": {"kind": "ours", "config": {**ISSUE_DEFAULTS, "length_head": True, "length_penalty": 1.0}},
}


def _bucket(text: str, salt: str, n: int) -> int:
    return int(hashlib.sha256((salt + text).encode()).hexdigest(), 16) % n


def write_fold(rows: list[dict], folds: int, fold: int, work: str) -> dict:
    parts: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    for row in rows:
        if _bucket(row["prompt"], "fold", folds) == fold:
            parts["test"].append(row)
        elif _bucket(row["prompt"], "val", 100) < VAL_SHARE:
            parts["val"].append(row)
        else:
            parts["train"].append(row)
    os.makedirs(work, exist_ok=True)
    for name, part in parts.items():
        with open(os.path.join(work, f"{name}.jsonl"), "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in part)
    return {name: len(part) for name, part in parts.items()}


def _rows(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def pair_rewards(model_dir: str, path: str):
    """(r(chosen), r(rejected), len(chosen), len(rejected)) of every row, scoring head 0."""
    import numpy as np

    from rewardtrain.ml import RewardModel

    rows = _rows(path)
    rm = RewardModel(model_dir)
    prompts = [r["prompt"] for r in rows] * 2
    responses = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
    scores = rm.score(prompts, responses)[:, 0].astype(np.float64)
    lengths = np.array([len(t) for t in responses], dtype=np.float64)
    n = len(rows)
    return scores[:n], scores[n:], lengths[:n], lengths[n:], rm.meta


def test_metrics(model_dir: str, fold_dir: str, save: str | None = None) -> dict:
    """The table's metrics; with ``save``, every val/test reward and length goes to that .npz too."""
    import numpy as np

    from rewardtrain.ml.calibration import expected_calibration_error, fit_temperature

    vc, vr, vlc, vlr, meta = pair_rewards(model_dir, os.path.join(fold_dir, "val.jsonl"))
    tc, tr, lc, lr, _ = pair_rewards(model_dir, os.path.join(fold_dir, "test.jsonl"))
    if save:
        np.savez(save, val_chosen=vc, val_rejected=vr, val_len_chosen=vlc, val_len_rejected=vlr,
                 test_chosen=tc, test_rejected=tr, test_len_chosen=lc, test_len_rejected=lr)
    temperature = fit_temperature(vc - vr)
    delta = tc - tr
    rewards, lengths = np.concatenate([tc, tr]), np.concatenate([lc, lr])
    return {
        "accuracy": float((delta > 0).mean()),
        "ece": expected_calibration_error(delta),
        "ece_temperature": expected_calibration_error(delta, temperature),
        "temperature": temperature,
        "stored_temperature": (meta.get("calibration") or {}).get("temperature"),
        "length_correlation": float(np.corrcoef(rewards, lengths)[0, 1]),
        "shorter_wins": float((lc < lr).mean()),
        "longer_wins": float((lc > lr).mean()),
        "test_pairs": int(len(delta)),
    }


def run_ours(recipe: dict, fold_dir: str, out: str, max_length: int, seed: int) -> dict:
    from rewardtrain.ml import TrainConfig, train

    config = TrainConfig(
        data=os.path.join(fold_dir, "train.jsonl"), eval_data=os.path.join(fold_dir, "val.jsonl"), out=out,
        seed=seed, save_every=0, resume=False, **{"max_length": max_length, **recipe["config"]},
    )
    result = train(config)
    t = result.metrics["train"]
    return {"train_seconds": t["seconds"], "steps": t["steps"], "pairs_trained": t["pairs"], "best_step": t.get("best_step")}


def run_trl(recipe: dict, fold_dir: str, out: str, max_length: int, seed: int) -> dict:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import trainer_vs_trl

    args = argparse.Namespace(epochs=recipe["epochs"], lr=recipe["lr"], batch_size=recipe["batch_size"],
                              max_length=max_length, seed=seed, max_steps=None)
    result = trainer_vs_trl.run_trl(args, fold_dir)  # trains on fold_dir/train.jsonl into fold_dir/trl
    if os.path.abspath(result["model_dir"]) != os.path.abspath(out):
        os.replace(result["model_dir"], out)
    return {"train_seconds": result["train_seconds"], "steps": result["steps"], "pairs_trained": result["pairs_trained"]}


def child(args) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    recipe = RECIPES[args.recipe]
    fold_dir = os.path.join(args.work, f"fold{args.fold}")
    out = os.path.join(fold_dir, args.recipe)
    start = time.perf_counter()
    runner = run_trl if recipe["kind"] == "trl" else run_ours
    result = {"recipe": args.recipe, "fold": args.fold, **runner(recipe, fold_dir, out, args.max_length, args.seed)}
    result["wall_seconds"] = time.perf_counter() - start
    result.update(test_metrics(out, fold_dir, save=out + ".rewards.npz"))
    with open(os.path.join(args.work, "results.jsonl"), "a", encoding="utf-8") as handle:
        handle.write(json.dumps(result) + "\n")


def _mean_sd(values: list[float]) -> str:
    import numpy as np

    values = np.array(values, dtype=np.float64)
    sd = values.std(ddof=1) if len(values) > 1 else float("nan")
    return f"{values.mean():.3f} ± {sd:.3f}"


def table(work: str, recipes: list[str] | None = None, reference: str = "trl") -> str:
    results = [json.loads(line) for line in open(os.path.join(work, "results.jsonl"), encoding="utf-8")]
    by_recipe: dict[str, dict[int, dict]] = {}
    for r in results:
        by_recipe.setdefault(r["recipe"], {})[r["fold"]] = r
    names = [n for n in (recipes or by_recipe) if n in by_recipe]
    ref = by_recipe.get(reference, {})
    lines = [
        "| recipe | folds | accuracy | Δ acc vs TRL (same folds) | ECE raw | ECE, temperature | length r | train s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        runs = by_recipe[name]
        rows = list(runs.values())
        paired = [runs[f]["accuracy"] - ref[f]["accuracy"] for f in runs if f in ref]
        diff = _mean_sd(paired) if paired and name != reference else "—"
        lines.append(
            f"| {name} | {len(rows)} | {_mean_sd([r['accuracy'] for r in rows])} | {diff} | "
            f"{_mean_sd([r['ece'] for r in rows])} | {_mean_sd([r['ece_temperature'] for r in rows])} | "
            f"{_mean_sd([r['length_correlation'] for r in rows])} | {sum(r['train_seconds'] for r in rows) / len(rows):.0f} |"
        )
    any_rows = next(iter(by_recipe.values()), {})
    if any_rows:
        lines.append(f"| shorter wins | {len(any_rows)} | {_mean_sd([r['shorter_wins'] for r in any_rows.values()])} | | | | | |")
    return "\n".join(lines)


def length_tradeoff(work: str, recipe: str, alphas: list[float], target: float = 0.15) -> str:
    """Accuracy against length correlation when a share of the reward's length slope is removed.

    Per fold, the slope b of reward on response length (characters) is fitted by least squares on
    the validation responses; the test rewards become r - alpha * b * length.  alpha = 0 is the
    model as trained, alpha = 1 removes the (validation) linear length trend entirely.  A linear
    correction like this could be stored with the model and applied at scoring time; nothing is
    retrained, so the curve costs no training runs.
    """
    import glob

    import numpy as np

    per_alpha: dict[float, list[tuple[float, float]]] = {a: [] for a in alphas}
    folds = []
    for path in sorted(glob.glob(os.path.join(work, "fold*", f"{recipe}.rewards.npz"))):
        d = np.load(path)
        folds.append(os.path.basename(os.path.dirname(path)))
        vr = np.concatenate([d["val_chosen"], d["val_rejected"]])
        vl = np.concatenate([d["val_len_chosen"], d["val_len_rejected"]])
        slope = np.polyfit(vl, vr, 1)[0]
        for a in alphas:
            tc = d["test_chosen"] - a * slope * d["test_len_chosen"]
            tr = d["test_rejected"] - a * slope * d["test_len_rejected"]
            rewards = np.concatenate([tc, tr])
            lengths = np.concatenate([d["test_len_chosen"], d["test_len_rejected"]])
            per_alpha[a].append((float((tc > tr).mean()), float(np.corrcoef(rewards, lengths)[0, 1])))
    if not folds:
        return f"no {recipe}.rewards.npz under {work}"
    # alpha chosen per fold on validation only: the smallest (step 0.05) whose validation |r| <= target
    targeted: list[tuple[float, float, float]] = []
    for path in sorted(glob.glob(os.path.join(work, "fold*", f"{recipe}.rewards.npz"))):
        d = np.load(path)
        vr = np.concatenate([d["val_chosen"], d["val_rejected"]])
        vl = np.concatenate([d["val_len_chosen"], d["val_len_rejected"]])
        slope = np.polyfit(vl, vr, 1)[0]
        a = next((a for a in np.arange(0, 1.0001, 0.05) if abs(np.corrcoef(vr - a * slope * vl, vl)[0, 1]) <= target), 1.0)
        tc = d["test_chosen"] - a * slope * d["test_len_chosen"]
        tr = d["test_rejected"] - a * slope * d["test_len_rejected"]
        lengths = np.concatenate([d["test_len_chosen"], d["test_len_rejected"]])
        targeted.append((float(a), float((tc > tr).mean()), float(np.corrcoef(np.concatenate([tc, tr]), lengths)[0, 1])))
    base = [acc for acc, _ in per_alpha[alphas[0]]]
    lines = [f"{recipe}, folds {', '.join(folds)}; alpha = share of the validation length slope removed",
             "| alpha | accuracy | Δ acc vs alpha=" + f"{alphas[0]:g}" + " | length r | per fold (acc; r) |",
             "|---:|---:|---:|---:|---|"]
    for a in alphas:
        accs = [acc for acc, _ in per_alpha[a]]
        rs = [r for _, r in per_alpha[a]]
        per_fold = ", ".join(f"{acc:.3f}; {r:+.2f}" for acc, r in per_alpha[a])
        lines.append(f"| {a:g} | {_mean_sd(accs)} | {_mean_sd([x - y for x, y in zip(accs, base)])} | "
                     f"{_mean_sd(rs)} | {per_fold} |")
    accs = [acc for _, acc, _ in targeted]
    lines.append(f"| val \\|r\\| ≤ {target:g} ({', '.join(f'{a:.2f}' for a, _, _ in targeted)}) | {_mean_sd(accs)} | "
                 f"{_mean_sd([x - y for x, y in zip(accs, base)])} | {_mean_sd([r for _, _, r in targeted])} | "
                 + ", ".join(f"{acc:.3f}; {r:+.2f}" for _, acc, r in targeted) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--work", default=os.path.join(ROOT, "benchmarks", "out", "rm_quality"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only-folds", default=None, help="comma-separated fold numbers to run (default: all)")
    parser.add_argument("--recipes", default="default,trl")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table", action="store_true", help="only print the table of what has finished")
    parser.add_argument("--length-tradeoff", metavar="RECIPE",
                        help="only print accuracy vs length r when removing part of RECIPE's length slope")
    parser.add_argument("--alphas", default="0,0.25,0.5,0.6,0.7,0.8,1", help="with --length-tradeoff")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (each with cpus/jobs torch threads)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads per run (default: cpus/jobs); 1 on a shared machine")
    parser.add_argument("--recipe", help=argparse.SUPPRESS)  # child mode
    parser.add_argument("--fold", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.recipe:
        return child(args)
    recipes = args.recipes.split(",")
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown:
        parser.error(f"unknown recipes {unknown}; known: {sorted(RECIPES)}")
    if args.length_tradeoff:
        print(length_tradeoff(args.work, args.length_tradeoff, [float(a) for a in args.alphas.split(",")]))
        return
    if args.table:
        print(table(args.work, recipes))
        return

    data = args.data if os.path.isabs(args.data) else os.path.join(ROOT, args.data)
    rows = _rows(data)
    folds = [int(f) for f in args.only_folds.split(",")] if args.only_folds else list(range(args.folds))
    results_path = os.path.join(args.work, "results.jsonl")
    os.makedirs(args.work, exist_ok=True)
    print(f"{date.today().isoformat()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"{len(rows)} rows, {args.folds} folds", flush=True)
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    tasks = []
    for fold in folds:  # fold-major: a grid cut short still has every recipe on the same folds
        sizes = write_fold(rows, args.folds, fold, os.path.join(args.work, f"fold{fold}"))
        print(f"fold {fold}: {sizes}", flush=True)
        for name in recipes:
            marker = os.path.join(args.work, f"fold{fold}", f"{name}.started")
            if not os.path.exists(marker):  # started (or finished) by this or an earlier invocation
                tasks.append((fold, name, marker))

    def run(task) -> None:
        fold, name, marker = task
        open(marker, "w").close()
        cmd = [sys.executable, __file__, "--recipe", name, "--fold", str(fold), "--work", args.work,
               "--max-length", str(args.max_length), "--seed", str(args.seed), "--threads", str(threads)]
        try:
            subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
        except subprocess.CalledProcessError as exc:  # one failed run must not stop the grid
            os.remove(marker)  # so the next invocation tries it again
            print(f"{name} fold {fold} failed (exit {exc.returncode}); the grid goes on", flush=True)
            return
        with open(results_path, encoding="utf-8") as handle:
            mine = [r for r in map(json.loads, handle) if r["recipe"] == name and r["fold"] == fold][-1]
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in mine.items()}), flush=True)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(run, tasks))
    print(table(args.work, recipes))


if __name__ == "__main__":
    main()
