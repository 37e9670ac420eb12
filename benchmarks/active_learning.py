"""Active learning vs random sampling: how many labels does each acquisition strategy save?

    .venv/bin/python benchmarks/active_learning.py [--pool FILE --eval FILE | --data FILE]
        [--strategies random,uncertainty,disagreement,dopt] [--seeds 3] [--rounds 5] [--batch 64]
        [--initial 64] [--pool-size 0 (all)] [--candidates 256] [--eval-size 0 (all)] [--max-length 128]
        [--lr 1e-4] [--train-layers 1] [--epsilon 0.1] [--threads 1] [--jobs 2]
        [--plot benchmarks/out/active_learning.png] [--json]

The defaults are the whole experiment: the full pool (1,188 HH pairs of the dev file; mixed:
4,752), the full eval split (281 HH pairs), 64 random labels then 5 rounds of 64 (64 -> 384
labels), 3 seeds, both pools, each pool in its own process with one torch thread (``--jobs 2``).
Estimated from CPU-seconds measured under load (BENCHMARKS.md) at about 35-37 minutes on an idle
2-core machine (over the issue's 30); ``--rounds 4`` is about a fifth less and its curves are a prefix of these.

Without ``--pool``/``--eval`` the HH-harmless file (``--data``, default
``../shared/data/hh-harmless-dev.jsonl``) is split by a SHA-256 hash of the prompt: one fifth
evaluates, the rest is the pool.  Two pools are run:

* ``hh``: the HH pool pairs alone (at most ``--pool-size``);
* ``mixed``: every HH pair joined by three easy pairs built from it -- its chosen response
  against the chosen response to a different prompt, against a truncated copy (the first 20-50 %
  of its words) and against a word-shuffled copy; the chosen response always wins.

Evaluation is always HH accuracy on the eval file.  A simulated annotator answers every selected
pair from its known label.  For each (pool, seed): ``--initial`` random pairs are labelled and
the reward model is fine-tuned on them (this round 0 is shared by all strategies); then each of
``--rounds`` rounds the strategy picks ``--batch`` pairs among ``--candidates`` unlabelled pool
pairs drawn at random (so the cost of a round does not grow with the pool), and the model is
fine-tuned warm from the previous round for ceil(2 * batch / 16) steps of 16 pairs: each new
pair once plus as many replayed older ones.

The model is the packaged all-MiniLM-L6-v2 (input layout and truncation from rewardtrain.ml);
its top ``--train-layers`` transformer layers (default 1), pooler and reward head are fine-tuned,
and the lower layers are frozen, so their outputs are computed once per text and cached: scoring
the pool each round costs only the top layers.  This is a fine-tuned reward model, not a frozen
sentence embedding with a linear probe (which the issue notes is near chance on HH-harmless);
``--train-layers 2`` doubles the cost of every round, ``--train-layers 6`` fine-tunes the whole
model at about six times the cost.

Strategies are :func:`rewardtrain.ml.acquisition.select` with its defaults (epsilon 0.1 random
picks, diversity 0.3).  ``disagreement`` uses 8 bootstrap last-layer heads refitted on the
labelled pairs' features (one backbone pass; an MC-dropout or deep ensemble would cost 8); ``dopt``
seeds its information matrix with the labelled pairs' features under the current model.

Printed: the learning curves (mean HH accuracy over seeds after each round) and, per strategy,
the share of random's labels it needs to reach random's final mean accuracy (the first point of
its mean curve, linearly interpolated, at or above that accuracy; "not reached" otherwise).
``--json`` prints one JSON object last:
``{"hh": {"<strategy>": {"label_share", "final_accuracy", "curve": [[labels, acc], ...], ...}}, "mixed": {...}}``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import platform
import random
import sys
import time
from datetime import date

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rewardtrain.ml.acquisition import STRATEGIES, bootstrap_heads, select  # noqa: E402
from rewardtrain.ml.batching import inference_batches  # noqa: E402
from rewardtrain.ml.config import default_model_path  # noqa: E402
from rewardtrain.ml.features import capture_head_input, head_layer  # noqa: E402
from rewardtrain.ml.formatting import Formatter  # noqa: E402
from rewardtrain.ml.hardware import choose_precision  # noqa: E402
from rewardtrain.ml.model import OVERALL, default_format, load_model  # noqa: E402

DEFAULT_DATA = os.path.join(ROOT, "..", "shared", "data", "hh-harmless-dev.jsonl")
STEP_PAIRS = 16


# ---------------------------------------------------------------- data


def read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def split_by_prompt(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    pool, held = [], []
    for row in rows:
        bucket = int(hashlib.sha256(row["prompt"].encode()).hexdigest(), 16) % 5
        (held if bucket == 0 else pool).append(row)
    return pool, held


def easy_pairs(rows: list[dict], rng: random.Random) -> list[dict]:
    """Three obvious pairs per HH pair: off-topic, truncated and word-shuffled rejections."""
    out = []
    for i, row in enumerate(rows):
        words = row["chosen"].split()
        other = rng.randrange(len(rows) - 1)
        other += other >= i
        cut = max(1, int(len(words) * rng.uniform(0.2, 0.5)))
        shuffled = words[:]
        rng.shuffle(shuffled)
        for rejected, kind in (
            (rows[other]["chosen"], "other_prompt"),
            (" ".join(words[:cut]), "truncated"),
            (" ".join(shuffled), "shuffled"),
        ):
            out.append({"prompt": row["prompt"], "chosen": row["chosen"], "rejected": rejected, "kind": kind})
    return out


class Texts:
    """Unique (prompt, response) texts, encoded once; pairs refer to them by index."""

    def __init__(self):
        self.index: dict[tuple[str, str], int] = {}
        self.items: list[tuple[str, str]] = []

    def add(self, prompt: str, response: str) -> int:
        key = (prompt, response)
        if key not in self.index:
            self.index[key] = len(self.items)
            self.items.append(key)
        return self.index[key]

    def pairs(self, rows: list[dict]) -> np.ndarray:
        """(n, 2) text indices, chosen first."""
        return np.array([[self.add(r["prompt"], r["chosen"]), self.add(r["prompt"], r["rejected"])] for r in rows], dtype=np.int64)


# ---------------------------------------------------------------- model


class Passthrough(nn.Module):
    """Stands in for the embeddings of the top part: its input is the cached lower-layer output."""

    def forward(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None, past_key_values_length=0):
        return inputs_embeds


class SplitModel:
    """MiniLM reward model with frozen lower layers (outputs cached per text) and a trainable top."""

    def __init__(self, max_length: int, train_layers: int, device: torch.device):
        torch.manual_seed(0)  # the new reward head's initialisation; identical for every run
        self.model, self.tokenizer = load_model(default_model_path(), [OVERALL], disable_dropout=True)
        self.format = default_format(self.model.config, "auto", max_length, self.tokenizer)
        self.device = device
        self.bf16 = choose_precision(device).bf16  # training autocast, as the trainer decides it
        base = self.model.base_model
        layers = base.encoder.layer
        if not 1 <= train_layers <= len(layers):
            raise SystemExit(f"--train-layers must be 1..{len(layers)}")
        self.lower_layers = nn.ModuleList(layers[: len(layers) - train_layers])
        self.upper_layers = nn.ModuleList(layers[len(layers) - train_layers :])
        self.embeddings = base.embeddings
        self.model.to(device)
        self.head = head_layer(self.model)

    def cache(self, texts: list[tuple[str, str]], batch_tokens: int = 8192) -> list[torch.Tensor]:
        """Lower-layer output of every text (float16, CPU), computed once."""
        base = self.model.base_model
        encoded = Formatter(self.tokenizer, self.format).encode([t[0] for t in texts], [t[1] for t in texts])
        out: list[torch.Tensor | None] = [None] * len(texts)
        base.embeddings, base.encoder.layer = self.embeddings, self.lower_layers
        pad = self.tokenizer.pad_token_id
        with torch.inference_mode():
            for rows in inference_batches([len(e[0]) for e in encoded], batch_tokens):
                longest = max(len(encoded[r][0]) for r in rows)
                ids = torch.full((len(rows), longest), pad, dtype=torch.long)
                types = torch.zeros((len(rows), longest), dtype=torch.long)
                mask = torch.zeros((len(rows), longest), dtype=torch.long)
                for k, r in enumerate(rows):
                    n = len(encoded[r][0])
                    ids[k, :n] = torch.tensor(encoded[r][0])
                    if encoded[r][1] is not None:
                        types[k, :n] = torch.tensor(encoded[r][1])
                    mask[k, :n] = 1
                hidden = base(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                              token_type_ids=types.to(self.device)).last_hidden_state
                for k, r in enumerate(rows):
                    out[r] = hidden[k, : len(encoded[r][0])].to(torch.float16).cpu()
        base.embeddings, base.encoder.layer = Passthrough(), self.upper_layers
        return out

    def trainable(self) -> list[nn.Parameter]:
        base = self.model.base_model
        params = list(self.upper_layers.parameters()) + list(self.head.parameters())
        if getattr(base, "pooler", None) is not None:
            params += list(base.pooler.parameters())
        return params

    def state(self) -> dict:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()
                if not k.startswith(self.model.base_model_prefix + ".embeddings")}

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state, strict=False)

    def forward(self, hidden: list[torch.Tensor]) -> torch.Tensor:
        longest = max(h.shape[0] for h in hidden)
        batch = torch.zeros((len(hidden), longest, hidden[0].shape[1]), dtype=torch.float32)
        mask = torch.zeros((len(hidden), longest), dtype=torch.long)
        for k, h in enumerate(hidden):
            batch[k, : h.shape[0]] = h.float()
            mask[k, : h.shape[0]] = 1
        return self.model(inputs_embeds=batch.to(self.device), attention_mask=mask.to(self.device)).logits[:, 0].float()

    @torch.inference_mode()
    def score(self, cache: list[torch.Tensor], texts: np.ndarray, batch_tokens: int = 8192) -> tuple[np.ndarray, np.ndarray]:
        """Rewards (n,) and last-layer features (n, d) of the given text indices."""
        self.model.eval()
        rewards = np.zeros(len(texts), dtype=np.float64)
        feats = np.zeros((len(texts), self.head.in_features), dtype=np.float64)
        with capture_head_input(self.model) as captured:
            for rows in inference_batches([cache[t].shape[0] for t in texts], batch_tokens):
                rewards[rows] = self.forward([cache[texts[r]] for r in rows]).cpu().numpy()
                feats[rows] = captured.pop().numpy()
        return rewards, feats

    def fine_tune(self, cache, pairs: np.ndarray, optimizer, steps: int, rng: np.random.Generator, new: int) -> None:
        """``steps`` steps of STEP_PAIRS pairs: the ``new`` newest pairs once each, the rest replayed."""
        self.model.train()
        order = list(rng.permutation(np.arange(len(pairs) - new, len(pairs)))) + list(rng.permutation(len(pairs) - new))
        while len(order) < steps * STEP_PAIRS:
            order += list(rng.permutation(len(pairs)))
        for k in range(steps):
            batch_rows = order[k * STEP_PAIRS : (k + 1) * STEP_PAIRS]
            batch = pairs[np.array(batch_rows)]
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                r = self.forward([cache[t] for t in batch[:, 0]] + [cache[t] for t in batch[:, 1]])
            loss = -F.logsigmoid(r[: len(batch)] - r[len(batch) :]).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.trainable(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)


# ---------------------------------------------------------------- the experiment


def accuracy(model: SplitModel, cache, eval_pairs: np.ndarray) -> float:
    rewards, _ = model.score(cache, eval_pairs.ravel())
    rewards = rewards.reshape(-1, 2)
    return float((rewards[:, 0] > rewards[:, 1]).mean())


def acquire(strategy: str, model: SplitModel, cache, pool: np.ndarray, labeled: list[int], candidates: np.ndarray,
            size: int, epsilon: float, seed: int) -> np.ndarray:
    if strategy == "random":
        picked, _ = select("random", rewards=np.zeros(2 * len(candidates)), size=size, seed=seed)
        return candidates[picked]
    # Slot order of a candidate pair is randomised: the model must not be told which side won.
    flip = np.random.default_rng(seed).random(len(candidates)) < 0.5
    shown = np.where(flip[:, None], pool[candidates][:, ::-1], pool[candidates])
    rewards, feats = model.score(cache, shown.ravel())
    kwargs = {}
    if strategy in ("dopt", "disagreement"):
        lab_r, lab_f = model.score(cache, pool[labeled].ravel())
        lab_r, lab_f = lab_r.reshape(-1, 2), lab_f.reshape(len(labeled), 2, -1)
        if strategy == "dopt":
            kwargs = {"labeled_features": lab_f, "labeled_rewards": lab_r}
        else:
            heads = bootstrap_heads(lab_f, model.head.weight.detach().cpu().numpy()[0], members=8, seed=seed)
            rewards = feats @ heads.T  # (texts, members): the shared bias cancels in differences
            rewards = rewards.T
    picked, _ = select(strategy, rewards=rewards, features=feats, size=size, epsilon=epsilon, seed=seed, **kwargs)
    return candidates[picked]


def run_pool(name: str, pool: np.ndarray, eval_pairs: np.ndarray, model: SplitModel, start_state: dict, cache, args, log) -> dict:
    curves: dict[str, list[list[float]]] = {s: [] for s in args.strategies}
    labels_axis = [args.initial + r * args.batch for r in range(args.rounds + 1)]
    steps = math.ceil(2 * args.batch / STEP_PAIRS)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        rng = np.random.default_rng([seed, 0])
        initial = list(rng.choice(len(pool), size=args.initial, replace=False))
        model.load(start_state)
        optimizer = torch.optim.AdamW(model.trainable(), lr=args.lr)
        model.fine_tune(cache, pool[initial], optimizer, math.ceil(2 * args.initial / STEP_PAIRS), rng, len(initial))
        round0 = (model.state(), copy.deepcopy(optimizer.state_dict()), accuracy(model, cache, eval_pairs))
        for strategy in args.strategies:
            tick, cpu = time.perf_counter(), time.process_time()
            model.load(round0[0])
            optimizer = torch.optim.AdamW(model.trainable(), lr=args.lr)
            optimizer.load_state_dict(round0[1])
            labeled, curve = list(initial), [round0[2]]
            for r in range(1, args.rounds + 1):
                round_rng = np.random.default_rng([seed, r, STRATEGIES.index(strategy)])
                unlabeled = np.setdiff1d(np.arange(len(pool)), labeled)
                candidates = np.sort(round_rng.choice(unlabeled, size=min(args.candidates, len(unlabeled)), replace=False))
                picked = acquire(strategy, model, cache, pool, labeled, candidates, args.batch, args.epsilon, seed * 1000 + r)
                labeled += [int(i) for i in picked]  # the simulated annotator: labels are known
                model.fine_tune(cache, pool[labeled], optimizer, steps, round_rng, len(picked))
                curve.append(accuracy(model, cache, eval_pairs))
            curves[strategy].append(curve)
            log(f"  {name} seed {seed} {strategy:12s} " + " ".join(f"{a:.3f}" for a in curve) + f"  ({time.perf_counter() - tick:.0f}s, {time.process_time() - cpu:.0f} cpu-s)")
    return summarize(curves, labels_axis, args)


def crossing(labels: list[int], curve: np.ndarray, target: float) -> float | None:
    """Labels at which the curve first reaches target, linearly interpolated."""
    for k, acc in enumerate(curve):
        if acc >= target - 1e-12:
            if k == 0:
                return float(labels[0])
            prev = curve[k - 1]
            return labels[k - 1] + (target - prev) / (acc - prev) * (labels[k] - labels[k - 1])
    return None


def summarize(curves: dict, labels: list[int], args) -> dict:
    out = {}
    random_mean = np.mean(curves["random"], axis=0) if "random" in curves else None
    target = float(random_mean[-1]) if random_mean is not None else None
    for strategy, per_seed in curves.items():
        per_seed = np.array(per_seed)
        mean = per_seed.mean(0)
        reached = crossing(labels, mean, target) if target is not None else None
        out[strategy] = {
            "label_share": None if reached is None else reached / labels[-1],
            "final_accuracy": float(mean[-1]),
            # Random's gain over the shared round 0: when it is <= 0, every strategy "reaches"
            # random's final accuracy at round 0 and the label share says nothing.
            "random_gain": None if random_mean is None else float(random_mean[-1] - random_mean[0]),
            "final_accuracy_sd": float(per_seed[:, -1].std(ddof=1)) if len(per_seed) > 1 else 0.0,
            "curve": [[int(n), float(a)] for n, a in zip(labels, mean)],
            "seeds": per_seed.round(4).tolist(),
        }
    return out


def plot(results: dict, path: str, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.2), squeeze=False)
    for ax, (pool, by_strategy) in zip(axes[0], results.items()):
        for strategy, res in by_strategy.items():
            seeds = np.array(res["seeds"])
            x = [p[0] for p in res["curve"]]
            mean = seeds.mean(0)
            se = seeds.std(0, ddof=1) / math.sqrt(len(seeds)) if len(seeds) > 1 else np.zeros_like(mean)
            ax.plot(x, mean, marker="o", label=f"{strategy} ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})")
            ax.fill_between(x, mean - se, mean + se, alpha=0.15)
        ax.set_title(f"pool: {pool} (eval: HH pairs; mean ± s.e. over seeds)")
        ax.set_xlabel("labelled pairs")
        ax.set_ylabel("HH held-out accuracy")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def read_saved(path: str, args) -> dict:
    """A --json output, or the log (stderr) of a run stopped early: its per-seed curve lines."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().strip().splitlines()
    if lines and lines[-1].startswith("{"):
        return json.loads(lines[-1])
    labels = [args.initial + r * args.batch for r in range(args.rounds + 1)]
    saved: dict = {}
    for line in lines:
        parts = line.split()
        if len(parts) >= 5 + args.rounds and parts[1] == "seed" and parts[3] in STRATEGIES:
            entry = saved.setdefault(parts[0], {}).setdefault(parts[3], {"seeds": [], "curve": [[n, 0] for n in labels]})
            entry["seeds"].append([float(a) for a in parts[4 : 5 + args.rounds]])
    return saved


def report(results: dict, args, log) -> None:
    for name, by_strategy in results.items():
        n_seeds = len(next(iter(by_strategy.values()))["seeds"])
        log(f"\npool {name}: HH accuracy by labelled pairs (mean over {n_seeds} seeds)")
        labels = [p[0] for p in next(iter(by_strategy.values()))["curve"]]
        log(f"  {'strategy':12s} " + " ".join(f"{n:>6d}" for n in labels) + "   sd(final)  share of random's labels")
        for strategy, res in by_strategy.items():
            share = "not reached" if res["label_share"] is None else f"{100 * res['label_share']:.0f} %"
            log(f"  {strategy:12s} " + " ".join(f"{a:6.3f}" for _, a in res["curve"])
                + f"   {res['final_accuracy_sd']:.3f}      {share}")
        gain = by_strategy.get("random", {}).get("random_gain")
        if gain is not None and gain <= 0:
            log("  note: random ended no better than the shared round 0, so label shares are not informative")
    if args.plot:
        os.makedirs(os.path.dirname(os.path.abspath(args.plot)), exist_ok=True)
        plot(results, args.plot, args)
        log(f"\nplot: {args.plot}")


def child_argv(args, pool: str) -> list[str]:
    """This script's command line for one pool: the same settings, JSON out, no plot."""
    argv = [sys.executable, os.path.abspath(__file__), "--pools", pool, "--json", "--jobs", "1", "--plot", ""]
    if args.pool:
        argv += ["--pool", args.pool, "--eval", args.eval]
    else:
        argv += ["--data", args.data]
    for flag in ("strategies", "seeds", "first_seed", "rounds", "batch", "initial", "pool_size", "candidates",
                 "eval_size", "max_length", "lr", "train_layers", "epsilon", "threads"):
        value = getattr(args, flag)
        argv += ["--" + flag.replace("_", "-"), ",".join(value) if isinstance(value, list) else str(value)]
    return argv


def run_parallel(pools: list[str], args, log) -> dict:
    """One process per pool, ``--jobs`` at a time; their logs go to stderr, their JSON is merged."""
    import resource
    import subprocess

    started = time.perf_counter()
    results: dict = {}
    pending = list(pools)
    running: list[tuple[str, subprocess.Popen]] = []
    while pending or running:
        while pending and len(running) < args.jobs:
            pool = pending.pop(0)
            running.append((pool, subprocess.Popen(child_argv(args, pool), stdout=subprocess.PIPE, text=True)))
        pool, proc = running.pop(0)
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"the {pool} pool's process failed (exit {proc.returncode})")
        results.update(json.loads(out.strip().splitlines()[-1]))
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    report(results, args, log)
    log(f"total {time.perf_counter() - started:.0f}s wall, {cpu.ru_utime + cpu.ru_stime:.0f} cpu-s in {len(pools)} processes "
        f"({args.jobs} at a time, {args.threads} thread(s) each) on {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, {date.today()}, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.json:
        print(json.dumps(results))
    return results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", help="JSONL of HH pairs to draw labels from")
    parser.add_argument("--eval", help="JSONL of HH pairs to evaluate on")
    parser.add_argument("--data", default=DEFAULT_DATA, help="split by prompt into pool/eval when --pool/--eval are not given")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--pools", default="hh,mixed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="run seeds first-seed .. first-seed+seeds-1")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64, help="pairs labelled per round")
    parser.add_argument("--initial", type=int, default=64, help="random pairs labelled before round 1")
    parser.add_argument("--pool-size", type=int, default=0, help="HH pool pairs used (0 = all)")
    parser.add_argument("--candidates", type=int, default=256, help="unlabelled pool pairs scored per round")
    parser.add_argument("--eval-size", type=int, default=0, help="HH eval pairs used (0 = all)")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--train-layers", type=int, default=1)
    parser.add_argument("--epsilon", type=float, default=0.1)
    parser.add_argument("--plot", default=os.path.join(ROOT, "benchmarks", "out", "active_learning.png"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--jobs", type=int, default=2,
                        help="pools run as this many parallel processes (each with --threads threads); 1 = one after the other")
    parser.add_argument("--merge", nargs="+", metavar="JSON",
                        help="only print the table and plot from saved --json outputs (e.g. one run per pool)")
    return parser


def main(argv=None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = set(args.strategies) - set(STRATEGIES)
    if unknown or "random" not in args.strategies:
        parser.error(f"--strategies must include random and only use {', '.join(STRATEGIES)}")
    if args.seeds < 1 or args.rounds < 1:
        parser.error("--seeds and --rounds must be >= 1")
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if args.json else (lambda msg: print(msg, flush=True))
    if args.merge:  # e.g. one run per pool, or seeds run in parallel: per-seed curves are pooled
        curves: dict = {}
        axes: dict = {}
        for path in args.merge:
            saved = read_saved(path, args)
            for pool, by_strategy in saved.items():
                for strategy, res in by_strategy.items():
                    curves.setdefault(pool, {}).setdefault(strategy, []).extend(res["seeds"])
                    axes[pool] = [p[0] for p in res["curve"]]
        results = {pool: summarize(c, axes[pool], args) for pool, c in curves.items()}
        args.seeds = len(next(iter(next(iter(results.values())).values()))["seeds"])
        report(results, args, log)
        if args.json:
            print(json.dumps(results))
        return results

    torch.set_num_threads(args.threads)
    wanted = [p.strip() for p in args.pools.split(",") if p.strip()]
    if args.jobs > 1 and len(wanted) > 1:
        return run_parallel(wanted, args, log)

    if args.pool or args.eval:
        if not (args.pool and args.eval):
            parser.error("--pool and --eval go together")
        pool_rows, eval_rows = read_jsonl(args.pool), read_jsonl(args.eval)
    else:
        pool_rows, eval_rows = split_by_prompt(read_jsonl(args.data))
    shuffle = random.Random(0)
    shuffle.shuffle(pool_rows)
    if args.pool_size:
        pool_rows = pool_rows[: args.pool_size]
    if args.eval_size:
        eval_rows = eval_rows[: args.eval_size]
    needed = args.initial + args.rounds * args.batch
    if needed > len(pool_rows):
        parser.error(f"{needed} labels wanted but the HH pool has {len(pool_rows)} pairs")

    started = time.perf_counter()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    texts = Texts()
    eval_pairs = texts.pairs(eval_rows)
    pools = {}
    if "hh" in wanted:
        pools["hh"] = texts.pairs(pool_rows)
    if "mixed" in wanted:
        pools["mixed"] = texts.pairs(pool_rows + easy_pairs(pool_rows, random.Random(1)))
    model = SplitModel(args.max_length, args.train_layers, device)
    log(f"pool {len(pool_rows)} HH pairs (mixed: {len(pools.get('mixed', []))} pairs), eval {len(eval_pairs)} HH pairs, "
        f"{len(texts.items)} unique texts; device {device}")
    tick = time.perf_counter()
    cache = model.cache(texts.items)
    log(f"lower-layer cache: {time.perf_counter() - tick:.0f}s ({time.process_time():.0f} cpu-s since start)")

    start_state = model.state()  # every pool and seed starts from the same pre-trained model
    results = {}
    for name, pool in pools.items():
        results[name] = run_pool(name, pool, eval_pairs, model, start_state, cache, args, log)
    seconds = time.perf_counter() - started

    report(results, args, log)
    log(f"total {seconds:.0f}s ({time.process_time():.0f} cpu-s: wall time on an idle machine is about cpu-s / threads) on {platform.processor() or platform.machine()}, torch {torch.__version__}, {date.today()}")
    if args.json:
        print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
