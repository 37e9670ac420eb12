"""What the app adds on top of the bare trainer, and how soon "Train" shows progress.

    .venv/bin/python benchmarks/training_orchestration.py overhead [--steps 60] [--repeats 2]
    .venv/bin/python benchmarks/training_orchestration.py latency  [--runs 3]

Both import the shared HH-harmless rows (../shared/data/hh-harmless-dev.jsonl) into a project of
their own database (verdict_bench_train) and cut one snapshot (20 % validation, by prompt).

overhead: the same training config on the same snapshot, in one warm process, alternating
  (a) bare: rewardtrain.ml.train on the exported train/val files (the CLI's --data/--eval), and
  (b) the app: training_run_execute — export, train with the callback that records every step,
      heartbeats, checkpoint uploads to storage, the validation report, the upload and registration.
  The overhead is (b − a) / a, reported per repeat and as the median.

latency: a real Celery worker (pool solo, queue training) is started and warmed up; then a run is
  created through the service the API calls, and the time until its first recorded step (what the
  run page shows as progress) is measured, plus the split: until the worker claimed it, until the
  first step.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, setup  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "hh-harmless-dev.jsonl"
DB = "verdict_bench_train"


def _project():
    from annotation.models import Project
    from annotation.services.imports.pairs import pairs_import
    from annotation.services.projects import project_create
    from rewardtrain.snapshots.services import snapshot_cut

    project = Project.objects.filter(name="bench-training").first()
    if project is None:
        project = project_create(name="bench-training")
        with open(DATA, "rb") as handle:
            pairs_import(project=project, fileobj=handle, filename=str(DATA), fmt="trl")
    snapshot = project.snapshots.order_by("-version").first() or snapshot_cut(project=project, val_fraction=0.2)
    return project, snapshot


def _config(steps: int) -> dict:
    return {"max_steps": steps, "save_every": max(steps // 3, 1), "max_length": 256, "seed": 0}


def overhead(args) -> dict:
    from rewardtrain.ml import TrainConfig, train
    from rewardtrain.models import TrainingRun
    from rewardtrain.snapshots import exports
    from rewardtrain.training.runner import training_run_execute
    from rewardtrain.training.services import training_run_create

    project, snapshot = _project()
    config = _config(args.steps)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for split in ("train", "val"):
            paths[split] = os.path.join(tmp, f"{split}.jsonl")
            with open(paths[split], "wb") as out:
                exports.export_to_file(snapshot=snapshot, fmt="full", split=split, out=out)
        # Warm-up: first loads of the tokenizer and weights come from disk cache afterwards.
        train(TrainConfig(data=paths["train"], out=os.path.join(tmp, "warm"), max_steps=1, save_every=0,
                          max_length=256))
        for repeat in range(args.repeats):
            tick = time.perf_counter()
            out = os.path.join(tmp, f"bare-{repeat}")
            # What `python -m rewardtrain.ml train --data train.jsonl --eval val.jsonl` does: train,
            # calibrate on the validation rows and write their evaluation to metrics.json.
            train(TrainConfig(data=paths["train"], eval_data=paths["val"], out=out,
                              checkpoint_dir=os.path.join(out, "ckpt"), **config))
            bare = time.perf_counter() - tick

            tick = time.perf_counter()
            run = training_run_create(project=project, snapshot_id=snapshot.pk, config=config)
            outcome = training_run_execute(run_id=run.pk)
            app = time.perf_counter() - tick
            assert outcome == "succeeded", (outcome, TrainingRun.objects.get(pk=run.pk).error)
            row = {"repeat": repeat, "bare_s": round(bare, 2), "app_s": round(app, 2),
                   "overhead_pct": round(100 * (app - bare) / bare, 1)}
            print(json.dumps(row), flush=True)
            results.append(row)
    summary = {"steps": args.steps, "train_rows": snapshot.train_rows, "val_rows": snapshot.val_rows,
               "median_overhead_pct": statistics.median(r["overhead_pct"] for r in results), "runs": results}
    print(json.dumps(summary))
    return summary


def latency(args) -> dict:
    from django.conf import settings

    from config.celery_app import app
    from rewardtrain.models import TrainingMetric, TrainingRun
    from rewardtrain.training.services import training_run_create

    project, snapshot = _project()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "DATABASE_URL": os.environ["DATABASE_URL"],
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-Q",
                               "training", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        deadline = time.monotonic() + 120
        while not app.control.ping(timeout=0.5):
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not answer within 120 s")
        for i in range(args.runs + 1):  # the first run warms the worker (imports, weights) and is not counted
            tick = time.perf_counter()
            run = training_run_create(project=project, snapshot_id=snapshot.pk, config=_config(4))
            claimed = first = None
            while time.perf_counter() - tick < 600:
                status = TrainingRun.objects.filter(pk=run.pk).values_list("status", flat=True).first()
                if claimed is None and status != TrainingRun.Status.QUEUED:
                    claimed = time.perf_counter() - tick
                if first is None and TrainingMetric.objects.filter(run_id=run.pk).exists():
                    first = time.perf_counter() - tick
                if status in TrainingRun.FINISHED:
                    break
                time.sleep(0.05)
            row = {"run": i, "warm": i > 0, "claimed_s": round(claimed or -1, 2), "first_progress_s": round(first or -1, 2),
                   "finished_s": round(time.perf_counter() - tick, 2), "status": status}
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    warm = [r for r in rows if r["warm"]]
    summary = {"median_first_progress_s": statistics.median(r["first_progress_s"] for r in warm),
               "median_claimed_s": statistics.median(r["claimed_s"] for r in warm), "runs": rows}
    print(json.dumps(summary))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--steps", type=int, default=60)
    o.add_argument("--repeats", type=int, default=2)
    lat = sub.add_parser("latency")
    lat.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/3")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VERDICT_STORAGE_DIR", str(Path(tempfile.gettempdir()) / "verdict-bench-train-media"))
    setup(DB)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    {"overhead": overhead, "latency": latency}[args.command](args)


if __name__ == "__main__":
    main()
