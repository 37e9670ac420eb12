"""Acquisition rounds at pool scale: bulk-loading a 100k-task pool, scoring a pool on Celery workers,
and the strategies' selection over 100k tasks.

    nice -n 5 .venv/bin/python benchmarks/acquisition_100k.py [--insert 100000] [--pool 10000]
        [--workers 2] [--chunk 500] [--strategy uncertainty] [--size 100] [--select-tasks 100000]

Three measurements, in a database of their own (verdict_bench_acquire, dropped and re-created):

1. insert: ``--insert`` pool tasks (HH-harmless prompts with their chosen and rejected responses,
   each prompt made unique) written with bulk inserts (prompts, responses, tasks, slots).
2. round: a second project with a ``--pool``-task pool and an active model version trained for two
   steps from the packaged all-MiniLM-L6-v2 (so the scoring cost is MiniLM's); one acquisition
   round through the service the API calls, on a real Celery worker with ``--workers`` processes
   (prefork, one torch thread each) over Redis: wall time from "start" to succeeded (including each
   worker process loading the model once, a few seconds) and the scoring rate (texts/s, all workers).
3. select: ``rewardtrain.ml.acquisition.select`` of every strategy over ``--select-tasks`` tasks, on
   the round's real rewards and features repeated (with a little noise) to that size.

Scoring 100k tasks (200k texts) with MiniLM on a 2-core CPU takes a long time, so by default the
round is measured in full on 10k tasks and the 100k round time is extrapolated from its scoring
rate plus the selection time measured at 100k; the script prints which numbers are measured and
which extrapolated. ``--pool 100000`` measures the whole thing.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, peak_rss_mb, setup  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "hh-harmless-dev.jsonl"
DB = "verdict_bench_acquire"


def _rows() -> list[dict]:
    with open(DATA, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def bulk_pool(project, n: int, rows: list[dict], batch: int = 5000) -> float:
    """n pool tasks (prompt, chosen, rejected), unique per task, with bulk inserts; returns seconds."""
    from django.db import transaction

    from annotation.hashing import content_hash, prompt_hash, task_hash
    from annotation.models import Prompt, Response, Task, TaskSlot

    tick = time.perf_counter()
    for start in range(0, n, batch):
        with transaction.atomic():
            items = []
            for i in range(start, min(n, start + batch)):
                row = rows[i % len(rows)]
                text = f"{row['prompt']}\n\n(pool item {i})"
                items.append((text, prompt_hash(text=text, messages=None), row["chosen"], row["rejected"]))
            prompts = Prompt.objects.bulk_create(Prompt(project=project, text=t, content_hash=h)
                                                 for t, h, _, _ in items)
            responses = Response.objects.bulk_create(
                Response(prompt=p, text=r, content_hash=content_hash(r))
                for p, (_, _, chosen, rejected) in zip(prompts, items) for r in (chosen, rejected))
            tasks = Task.objects.bulk_create(
                Task(project=project, prompt=p, status=Task.Status.POOL, target_judgements=project.overlap,
                     content_hash=task_hash(prompt_hash=p.content_hash,
                                            response_hashes=[responses[2 * k].content_hash,
                                                             responses[2 * k + 1].content_hash]))
                for k, p in enumerate(prompts))
            TaskSlot.objects.bulk_create(TaskSlot(task=t, response=responses[2 * k + j], position=j)
                                         for k, t in enumerate(tasks) for j in (0, 1))
    return time.perf_counter() - tick


def minilm_model_version(project, rows: list[dict], tmp: str):
    """A registered, active version: MiniLM with a reward head after two training steps."""
    from rewardtrain.ml import TrainConfig, train
    from rewardtrain.models import ModelVersion
    from rewardtrain.training.storage import storage_upload_dir

    data = os.path.join(tmp, "train.jsonl")
    with open(data, "w", encoding="utf-8") as handle:
        for row in rows[:32]:
            handle.write(json.dumps(row) + "\n")
    out = os.path.join(tmp, "model")
    train(TrainConfig(data=data, out=out, max_steps=2, save_every=0, max_length=256, seed=0))
    prefix = f"models/bench-{project.pk}"
    storage_upload_dir(local=out, prefix=prefix)
    return ModelVersion.objects.create(project=project, version=1, artifact_dir=prefix,
                                       status=ModelVersion.Status.ACTIVE)


def start_worker(workers: int, log) -> subprocess.Popen:
    from config.celery_app import app

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default", "--pool", "prefork",
         "--concurrency", str(workers), "--loglevel", "WARNING", "--without-heartbeat", "--without-mingle",
         "--without-gossip"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the Celery worker exited early; see its log")
        replies = app.control.ping(timeout=1.0)
        if replies:
            return proc
    proc.kill()
    raise RuntimeError("the Celery worker did not answer a ping within 300 s")


def _wait(round_, timeout: float):
    from rewardtrain.models import AcquisitionRound

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        round_.refresh_from_db()
        if round_.status in AcquisitionRound.FINISHED:
            if round_.status != AcquisitionRound.Status.SUCCEEDED:
                raise RuntimeError(f"round {round_.pk} {round_.status}: {round_.error}")
            return round_
        time.sleep(0.5)
    raise RuntimeError(f"round {round_.pk} did not finish within {timeout} s (status {round_.status})")


def select_timings(features, rewards, n_tasks: int, size: int) -> dict:
    """select() of each strategy over n_tasks pair tasks built from the round's real rows."""
    import numpy as np

    from rewardtrain.ml.acquisition import STRATEGIES, select

    rng = np.random.default_rng(0)
    reps = -(-2 * n_tasks // len(rewards))
    r = np.tile(rewards, reps)[: 2 * n_tasks] + rng.normal(0, 0.01, 2 * n_tasks)
    f = np.tile(features, (reps, 1))[: 2 * n_tasks].astype(np.float32)
    f = f + rng.normal(0, 0.01, f.shape).astype(np.float32)
    members = np.stack([r + rng.normal(0, 0.1, len(r)) for _ in range(8)])
    out = {}
    for strategy in STRATEGIES:
        tick = time.perf_counter()
        select(strategy, rewards=members if strategy == "disagreement" else r, features=f, size=size, seed=0)
        out[strategy] = round(time.perf_counter() - tick, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--insert", type=int, default=100_000, help="pool tasks bulk-inserted (step 1)")
    parser.add_argument("--pool", type=int, default=10_000, help="pool tasks scored by the round (step 2)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=500, help="pool tasks per chunk (one Celery task each)")
    parser.add_argument("--strategy", default="uncertainty")
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--select-tasks", type=int, default=100_000)
    args = parser.parse_args()

    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/2")
    os.environ["VERDICT_ACQUISITION_CHUNK_TASKS"] = str(args.chunk)
    var = Path(tempfile.mkdtemp(prefix="bench-acquire-"))
    os.environ["VERDICT_VAR_DIR"] = str(var)  # storage shared with the worker processes
    setup(DB, fresh=True)
    from annotation.services.projects import project_create
    from rewardtrain.active.services import acquisition_round_create

    rows = _rows()
    result = {"insert": {}, "round": {}, "select": {}}

    big = project_create(name="bench-pool-100k")
    seconds = bulk_pool(big, args.insert, rows)
    result["insert"] = {"tasks": args.insert, "seconds": round(seconds, 1), "tasks_per_s": round(args.insert / seconds)}
    print(f"insert: {args.insert} pool tasks in {seconds:.1f} s", flush=True)

    project = project_create(name="bench-round")
    bulk_pool(project, args.pool, rows)
    with tempfile.TemporaryDirectory() as tmp:
        model = minilm_model_version(project, rows, tmp)
    log_path = var / "worker.log"
    with open(log_path, "w") as log:
        worker = start_worker(args.workers, log)
        try:
            tick = time.perf_counter()
            round_ = acquisition_round_create(project=project, strategy=args.strategy, size=args.size)
            round_ = _wait(round_, 6 * 3600)
            wall = time.perf_counter() - tick
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    scoring = (round_.updated_at - round_.started_at).total_seconds()  # last write: the selection's
    texts = 2 * args.pool
    result["round"] = {
        "pool_tasks": args.pool, "texts": texts, "workers": args.workers, "chunk_tasks": args.chunk,
        "chunks": round_.chunks_total, "strategy": args.strategy, "size": args.size,
        "wall_seconds": round(wall, 1), "claimed_to_done_seconds": round(scoring, 1),
        "texts_per_s": round(texts / wall, 1), "picked": round_.picked}
    print(f"round: {args.pool} tasks ({texts} texts) with {args.workers} worker processes in {wall:.1f} s "
          f"= {texts / wall:.1f} texts/s", flush=True)

    # The chunks' files are deleted once the round succeeds: score a sample again for select().
    from rewardtrain.scoring.cache import loaded_model

    sample = rows[:256]
    m = loaded_model(model_version=model)
    r, f = m.features([x["prompt"] for x in sample for _ in (0, 1)],
                      [t for x in sample for t in (x["chosen"], x["rejected"])])
    result["select"] = {"tasks": args.select_tasks, "size": args.size,
                        "seconds": select_timings(f, r[:, 0], args.select_tasks, args.size)}
    print(f"select over {args.select_tasks} tasks, size {args.size}: {result['select']['seconds']}", flush=True)

    rate = texts / wall
    sel = result["select"]["seconds"].get(args.strategy, 0.0)
    result["extrapolated_100k"] = {
        "note": "measured scoring rate at --pool, times 200k texts, plus select() measured at --select-tasks",
        "seconds": round(200_000 / rate + sel, 0), "per_worker_texts_per_s": round(rate / args.workers, 1)}
    result["peak_rss_mb_main"] = round(peak_rss_mb())
    result["load_average"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    shutil.rmtree(var, ignore_errors=True)  # the model copy and the worker's log


if __name__ == "__main__":
    main()
