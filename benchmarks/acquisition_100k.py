"""Acquisition rounds at pool scale: a 100k-task pool bulk-loaded, rounds scored on real Celery workers
(1, then 2 worker processes) through the service the API calls, and the strategies' selection at 100k.

    nice -n 5 .venv/bin/python benchmarks/acquisition_100k.py [--insert 100000] [--max-candidates 1500]
        [--workers 1,2] [--chunk 250] [--strategy uncertainty] [--size 100] [--select-tasks 100000]
        [--db verdict_bench_acquire]

In a database of its own (--db, dropped and re-created), one project:

1. insert: ``--insert`` pool tasks (HH-harmless prompts with their chosen and rejected responses, each
   prompt made unique) written with bulk inserts (prompts, responses, tasks, slots).
2. pool load: the query a round starts with (the project's POOL task ids, by id) and the seeded
   candidate sample (rewardtrain.active.services.candidate_sample), timed on the 100k pool.
3. rounds: an active model version (all-MiniLM-L6-v2 with a reward head, two training steps) and, for
   each entry of ``--workers``, a real Celery worker with that many prefork processes (one torch thread
   each) over Redis and one ``acquisition_round_create`` round on the 100k pool with ``max_candidates``
   = ``--max-candidates`` (the per-round cap; 0 scores the whole pool): wall time from create to
   succeeded (including each worker process loading the model once), chunks fanned out, the
   scoring rate (texts/s over all processes) and the worker processes' peak RSS.
4. select: ``rewardtrain.ml.acquisition.select`` of every strategy over ``--select-tasks`` tasks, on a
   round's real rewards and features repeated (with a little noise) to that size.

Then what the uncapped round would cost: 200k texts at the measured per-process rate, divided by
workers. The script prints which numbers are measured and which are extrapolated.
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
    prefix = f"models/bench-{project.pk}-{time.time_ns()}"
    storage_upload_dir(local=out, prefix=prefix)
    version = (ModelVersion.objects.filter(project=project).order_by("-version").values_list("version", flat=True)
               .first() or 0) + 1
    return ModelVersion.objects.create(project=project, version=version, artifact_dir=prefix,
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


def worker_peak_rss_mb(proc: subprocess.Popen) -> list[float]:
    """Peak RSS (VmHWM) of the worker's pool processes, read before it is stopped."""
    import psutil

    out = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            with open(f"/proc/{child.pid}/status") as handle:
                hwm = next(line for line in handle if line.startswith("VmHWM"))
            out.append(round(int(hwm.split()[1]) / 1024))
        except (OSError, StopIteration):
            pass
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--insert", type=int, default=100_000, help="pool tasks bulk-inserted")
    parser.add_argument("--max-candidates", type=int, default=1500, help="per-round cap (0 = the whole pool)")
    parser.add_argument("--workers", default="1,2", help="a round per entry, with that many worker processes")
    parser.add_argument("--chunk", type=int, default=250, help="pool tasks per chunk (one Celery task each)")
    parser.add_argument("--strategy", default="uncertainty")
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--select-tasks", type=int, default=100_000)
    parser.add_argument("--db", default=DB)
    parser.add_argument("--reuse", action="store_true",
                        help="keep --db and the pool an earlier run inserted there (skips step 1)")
    args = parser.parse_args()

    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/2")
    os.environ["VERDICT_ACQUISITION_CHUNK_TASKS"] = str(args.chunk)
    var = Path(tempfile.mkdtemp(prefix="bench-acquire-"))
    os.environ["VERDICT_VAR_DIR"] = str(var)  # storage shared with the worker processes
    started = time.perf_counter()
    load_start = os.getloadavg()
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; {os.cpu_count()} cores; load average "
          f"{load_start}", flush=True)
    setup(args.db, fresh=not args.reuse)
    from annotation.models import Project, Task
    from annotation.services.projects import project_create
    from rewardtrain.active.services import acquisition_round_create, candidate_sample
    from rewardtrain.models import AcquisitionRound, ModelVersion

    rows = _rows()
    result = {"insert": {}, "pool_load": {}, "rounds": [], "select": {}}

    project = Project.objects.filter(name="bench-pool-100k").first() if args.reuse else None
    if project is None:
        project = project_create(name="bench-pool-100k")
        seconds = bulk_pool(project, args.insert, rows)
        result["insert"] = {"tasks": args.insert, "seconds": round(seconds, 1),
                            "tasks_per_s": round(args.insert / seconds)}
        print(f"insert: {args.insert} pool tasks in {seconds:.1f} s", flush=True)
    else:  # an earlier run's pool (and model, rounds): the model is trained again, the old one archived
        AcquisitionRound.objects.filter(project=project, status__in=AcquisitionRound.ACTIVE).update(
            status=AcquisitionRound.Status.FAILED, error="left over by an earlier benchmark run")
        ModelVersion.objects.filter(project=project).update(status=ModelVersion.Status.ARCHIVED)
        result["insert"] = {"reused": True}

    tick = time.perf_counter()
    pool = list(Task.objects.filter(project=project, status=Task.Status.POOL).order_by("id").values_list("id", flat=True))
    query_s = time.perf_counter() - tick
    tick = time.perf_counter()
    candidate_sample(pool, max_candidates=args.max_candidates, seed=0)
    result["pool_load"] = {"tasks": len(pool), "query_seconds": round(query_s, 2),
                           "sample_seconds": round(time.perf_counter() - tick, 3)}
    print(f"pool load: {result['pool_load']}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        model = minilm_model_version(project, rows, tmp)
    for n_workers in [int(w) for w in args.workers.split(",") if w]:
        log_path = var / f"worker-{n_workers}.log"
        with open(log_path, "w") as log:
            worker = start_worker(n_workers, log)
            try:
                tick = time.perf_counter()
                round_ = acquisition_round_create(project=project, strategy=args.strategy, size=args.size,
                                                  max_candidates=args.max_candidates)
                round_ = _wait(round_, 6 * 3600)
                wall = time.perf_counter() - tick
                rss = worker_peak_rss_mb(worker)
            finally:
                worker.terminate()
                worker.wait(timeout=60)
        texts = 2 * round_.params["candidates"]
        entry = {"workers": n_workers, "pool_tasks": round_.pool_size, "candidates": round_.params["candidates"],
                 "texts": texts, "chunk_tasks": args.chunk, "chunks": round_.chunks_total, "strategy": args.strategy,
                 "size": args.size, "picked": round_.picked, "wall_seconds": round(wall, 1),
                 "started_to_done_seconds": round((round_.finished_at - round_.started_at).total_seconds(), 1),
                 "texts_per_s": round(texts / wall, 2), "texts_per_s_per_process": round(texts / wall / n_workers, 2),
                 "worker_peak_rss_mb": rss, "load_average_after": os.getloadavg()}
        result["rounds"].append(entry)
        print(f"round with {n_workers} worker process(es): {entry}", flush=True)

    # The chunks' files are deleted once the round succeeds: score a sample again for select().
    from rewardtrain.scoring.cache import loaded_model

    sample = rows[:256]
    m = loaded_model(model_version=model)
    r, f = m.features([x["prompt"] for x in sample for _ in (0, 1)],
                      [t for x in sample for t in (x["chosen"], x["rejected"])])
    result["select"] = {"tasks": args.select_tasks, "size": args.size,
                        "seconds": select_timings(f, r[:, 0], args.select_tasks, args.size)}
    print(f"select over {args.select_tasks} tasks, size {args.size}: {result['select']['seconds']}", flush=True)

    # Per-process rate: the best measured (the 1-process round has no second process to share cores with).
    per_process = max(e["texts_per_s_per_process"] for e in result["rounds"]) if result["rounds"] else 0
    full_texts = 2 * args.insert
    if per_process:
        result["extrapolated_uncapped"] = {
            "note": "not measured: 2 texts per pool task at the best measured per-process rate, divided by "
                    "processes, plus select() measured at --select-tasks",
            "texts": full_texts, "per_process_texts_per_s": per_process,
            "hours_by_processes": {str(w): round((full_texts / (per_process * w)
                                                  + result["select"]["seconds"].get(args.strategy, 0.0)) / 3600, 2)
                                   for w in (1, 2, 4, 8, 16, 32)}}
    result["peak_rss_mb_main"] = round(peak_rss_mb())
    result["total_wall_seconds"] = round(time.perf_counter() - started, 1)
    result["load_average_start"] = load_start
    result["load_average_end"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    shutil.rmtree(var, ignore_errors=True)  # the model copy and the worker's log


if __name__ == "__main__":
    main()
