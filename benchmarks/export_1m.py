"""Snapshots and exports of 1,000,000 preference pairs: time and peak memory (RSS high-water).

    .venv/bin/python benchmarks/export_1m.py [--rows 1000000] [--keep]

Seeds a project of human judgements with COPY (5-way rankings, 5 annotators per task, so every
judgement gives 10 pairs), once per size, in its own database (verdict_bench_exports). Then, each
in a fresh process so its peak RSS is its own: cut the snapshot (every row, and majority), write
every export format to a file, and stream a download through the Django request/response cycle.
The same steps run at a tenth of the size: equal peaks at both sizes are the constant-memory claim.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
DB = "verdict_bench_exports"
K, ANNOTATORS = 5, 5
PAIRS_PER_TASK = ANNOTATORS * K * (K - 1) // 2  # 50


def _boot():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    os.environ.setdefault("VERDICT_STORAGE_DIR", str(OUT / "media"))
    import _django

    _django.setup(DB)
    return _django


def seed(rows: int) -> None:
    """A project `bench-<rows>` with rows // 50 tasks, each ranked by 5 annotators (50 pairs per task)."""
    _boot()
    from itertools import combinations

    from django.db import connection, transaction
    from django.utils import timezone

    from annotation.services import projects
    from annotation.hashing import content_hash, task_hash
    from annotation.models import Project
    from tests import factories

    name = f"bench-{rows}"
    if Project.objects.filter(name=name).exists():
        return
    tasks = rows // PAIRS_PER_TASK
    now = timezone.now().isoformat()
    with transaction.atomic():
        project = projects.project_create(name=name, mode="ranking", overlap=ANNOTATORS)
        rubric = factories.rubric(project, keys=("helpfulness",))
        users = [factories.member(project, "annotator").pk for _ in range(ANNOTATORS)]
        cur = connection.cursor().cursor  # the psycopg cursor, for COPY

        def next_id(table: str) -> int:
            cur.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
            return cur.fetchone()[0]

        p0, r0, t0 = next_id("annotation_prompt"), next_id("annotation_response"), next_id("annotation_task")
        j0, pair0 = next_id("annotation_judgement"), next_id("annotation_preferencepair")
        filler = "Explain the trade-offs carefully and give an example. "
        with cur.copy("COPY annotation_prompt (id, project_id, text, metadata, external_id, content_hash, created_at)"
                      " FROM STDIN") as copy:
            for t in range(tasks):
                text = f"Prompt {t}: {filler * 2}"
                copy.write_row((p0 + t, project.pk, text, "{}", "", content_hash(text), now))
        with cur.copy("COPY annotation_response (id, prompt_id, text, source_model, metadata, content_hash,"
                      " created_at) FROM STDIN") as copy:
            for t in range(tasks):
                for k in range(K):
                    text = f"Answer {k} to prompt {t}. " + "It depends on the context; here is why. " * (3 + k)
                    copy.write_row((r0 + t * K + k, p0 + t, text, f"model-{k}", "{}", content_hash(text), now))
        with cur.copy("COPY annotation_task (id, project_id, prompt_id, status, priority, target_judgements,"
                      " completed_judgements, is_gold, external_id, metadata, content_hash, created_at)"
                      " FROM STDIN") as copy:
            for t in range(tasks):
                copy.write_row((t0 + t, project.pk, p0 + t, "complete", 0.0, ANNOTATORS, ANNOTATORS, False, "", "{}",
                                task_hash(prompt_hash=str(t), response_hashes=[]), now))
        with cur.copy("COPY annotation_taskslot (task_id, response_id, position) FROM STDIN") as copy:
            for t in range(tasks):
                for k in range(K):
                    copy.write_row((t0 + t, r0 + t * K + k, k))
        rankings = {}
        with cur.copy("COPY annotation_judgement (id, task_id, annotator_id, ranking, strength, both_bad, criteria,"
                      " rationale, duration_ms, display_order, rubric_id, is_surplus, created_at) FROM STDIN") as copy:
            for t in range(tasks):
                ids = [r0 + t * K + k for k in range(K)]
                for a, user in enumerate(users):
                    order = ids[a % 2:] + ids[:a % 2]  # annotators disagree a little
                    ranking = [[r] for r in order]
                    rankings[(t, a)] = order
                    copy.write_row((j0 + t * ANNOTATORS + a, t0 + t, user, json.dumps(ranking), 1, False, "{}", "",
                                    2000 + t % 5000, json.dumps(ids[::-1]), rubric.pk, False, now))
        with cur.copy("COPY annotation_preferencepair (id, project_id, prompt_id, chosen_id, rejected_id, margin,"
                      " strength, criterion, is_tie, source, judgement_id, annotator_id, weight, provenance,"
                      " created_at) FROM STDIN") as copy:
            n = 0
            for t in range(tasks):
                for a, user in enumerate(users):
                    for (i, c), (j, r) in combinations(enumerate(rankings.pop((t, a))), 2):
                        copy.write_row((pair0 + n, project.pk, p0 + t, c, r, 2.0 * (j - i), 1, "", False, "human",
                                        j0 + t * ANNOTATORS + a, user, 1.0, json.dumps({"task": t0 + t}), now))
                        n += 1
        for table in ("annotation_prompt", "annotation_response", "annotation_task", "annotation_taskslot",
                      "annotation_judgement", "annotation_preferencepair"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    cur.execute("ANALYZE")


def step(kind: str, rows: int, arg: str) -> dict:
    """One measured step, run in this (fresh) process."""
    dj = _boot()
    from annotation.models import Project
    from rewardtrain.snapshots import exports
    from rewardtrain.models import DatasetSnapshot
    from rewardtrain.snapshots.filters import filters_build
    from rewardtrain.snapshots.services import snapshot_create

    project = Project.objects.get(name=f"bench-{rows}")
    base = dj.peak_rss_mb()
    started = time.perf_counter()
    result: dict = {}
    if kind == "snapshot":
        snap = snapshot_create(project=project, filters=filters_build(project=project), aggregation=arg, seed=1)
        result = {"snapshot": snap.pk, "rows_out": snap.train_rows + snap.val_rows,
                  "jsonl_mb": snap.artifact.size / 2**20, "parquet_mb": snap.artifact_parquet.size / 2**20}
    elif kind == "export":
        snap = DatasetSnapshot.objects.filter(project=project, aggregation="every").latest("version")
        target = OUT / f"export-{rows}-{arg}.jsonl"
        with open(target, "wb") as out:
            result = {"rows_out": exports.export_to_file(snapshot=snap, fmt=arg, split="all", out=out)}
        result["file_mb"] = target.stat().st_size / 2**20
        target.unlink()
    elif kind == "download":
        from django.test import Client

        snap = DatasetSnapshot.objects.filter(project=project, aggregation="every").latest("version")
        client = Client(SERVER_NAME="localhost")
        from django.contrib.auth import get_user_model

        admin, _ = get_user_model().objects.get_or_create(username="bench-superuser", defaults={"is_superuser": True})
        client.force_login(admin)
        response = client.get(f"/api/v1/projects/{project.pk}/snapshots/{snap.pk}/download/{arg}/")
        size = lines = 0
        for chunk in response.streaming_content:
            size += len(chunk)
            lines += 1
        result = {"rows_out": lines, "file_mb": size / 2**20, "status": response.status_code}
    result.update(seconds=time.perf_counter() - started, base_mb=base, peak_mb=dj.peak_rss_mb())
    return result


def run_step(kind: str, rows: int, arg: str = "") -> dict:
    out = subprocess.run([sys.executable, __file__, "--step", kind, "--rows", str(rows), "--arg", arg],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--arg", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.rows, args.arg)))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print("| rows in | step | rows out | seconds | rows/s | output MB | peak RSS MB | above Django start MB |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for rows in (args.rows // 10, args.rows):
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--step", "seed", "--rows", str(rows)], check=False, cwd=ROOT)
        plan = [("snapshot", "every"), ("snapshot", "majority")]
        plan += [("export", fmt) for fmt in ("trl", "trl-chat", "hh", "kway", "full")] + [("download", "trl")]
        for kind, arg in plan:
            r = run_step(kind, rows, arg)
            size = r.get("jsonl_mb", r.get("file_mb", 0))
            print(f"| {rows:,} | {kind} {arg} | {r['rows_out']:,} | {r['seconds']:.1f} | "
                  f"{r['rows_out'] / r['seconds']:,.0f} | {size:,.0f} | {r['peak_mb']:.0f} | "
                  f"{r['peak_mb'] - r['base_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    if "--step" in sys.argv and sys.argv[sys.argv.index("--step") + 1] == "seed":
        seed(int(sys.argv[sys.argv.index("--rows") + 1]))
    else:
        main()
