"""Server time of the quality pages and API on 100k tasks / 300k judgements.

    .venv/bin/python benchmarks/quality_pages.py seed [--db verdict_bench_quality]
    .venv/bin/python benchmarks/quality_pages.py run  [--db verdict_bench_quality] [--repeat 20]

`seed` (re)creates its own database and fills it with COPY (like annotation_load.py's seed, but with
answers that disagree, so that agreement is worth computing): one pairwise project with a one-criterion
rubric, overlap 3, 100 annotators — 80 careful (right 85 %, wrong 10 %, tie 5 %), 10 always choosing
the response shown first, 5 always tying, 5 at random — 100k tasks whose two responses come from two
of four source models, 300k judgements over 14 days with shuffled display orders, their leases, the
overall preference pairs, and 5k skipped leases.

`run` requests each page in-process through Django's test client as a project admin (the whole
middleware, view and template stack: server time, no network) against the Redis cache in CACHE_URL:
  cold     — the cache emptied first: pages answer "computing…" (and poll), the API 202, at once,
             while refreshes are queued; then each number is computed once as the worker does
             (`worker_refresh_s`: what the beat or a cold view costs a worker);
  warm     — median and p95 of --repeat further requests (numbers cached, stamp unchanged);
  stale    — after a new judgement, with the judgements' stamp checked in every request (the two
             aggregate queries that run once per VERDICT_QUALITY_STAMP_SECONDS in production): the
             cached numbers are served while a refresh is queued (no worker runs here; the queued
             refreshes are purged at the end).
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
N_TASKS, N_ANNOTATORS, OVERLAP = 100_000, 100, 3
MODELS = ["model-a", "model-b", "model-c", "model-d"]
QUALITY = {"model-a": 0.75, "model-b": 0.6, "model-c": 0.5, "model-d": 0.3}  # chance of being the better one


def db_url(db: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + db


def env_for(db: str) -> dict:
    return {**os.environ, "DATABASE_URL": db_url(db), "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "SECRET_KEY": "benchmark-only-secret", "DEBUG": "0", "ALLOWED_HOSTS": "testserver",
            "CACHE_URL": os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/2"),
            "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/11")}


def _copy(cur, table: str, columns: str, rows) -> int:
    n = 0
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def behaviour(annotator: int) -> str:
    return "careful" if annotator <= 80 else "left" if annotator <= 90 else "tie" if annotator <= 95 else "random"


def answer(kind: str, rng: random.Random, better: int, worse: int, shown: list[int]) -> list[list[int]]:
    if kind == "careful":
        roll = rng.random()
        return [[better], [worse]] if roll < 0.85 else [[worse], [better]] if roll < 0.95 else [[better, worse]]
    if kind == "left":
        return [[shown[0]], [shown[1]]]
    if kind == "tie":
        return [sorted(shown)]
    return rng.choice([[[better], [worse]], [[worse], [better]], [sorted(shown)]])


def seed(db: str) -> None:
    import psycopg
    from psycopg.types.json import Jsonb

    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{db}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env_for(db), check=True)
    rng = random.Random(11)
    now = datetime.now(timezone.utc)
    start = now - timedelta(days=14)
    started = time.perf_counter()
    with psycopg.connect(db_url(db)) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO annotation_project (id, name, description, instructions, mode, strength_scale,
                       allow_ties, allow_both_bad, rationale_required, overlap, lease_seconds, gold_rate, created_at,
                       adaptive_overlap, max_overlap, dispute_threshold, pii_policy)
                       VALUES (1, 'Quality benchmark', '', '', 'pairwise',
                       '["slightly better", "clearly better", "much better"]', true, true, false, %s, 600, 0, %s,
                       false, 5, 0.25, 'off')""",
                    (OVERLAP, start))
        cur.execute("INSERT INTO annotation_rubric (id, project_id, name, version, created_at) VALUES (1, 1, 'R', 1, %s)",
                    (start,))
        cur.execute("INSERT INTO annotation_criterion (rubric_id, key, label, description, position) "
                    "VALUES (1, 'helpfulness', 'Helpfulness', '', 0)")
        cur.execute("UPDATE annotation_project SET rubric_id = 1")
        users = range(1, N_ANNOTATORS + 2)  # the last one is the project admin who reads the pages
        _copy(cur, "auth_user", "id, password, is_superuser, username, first_name, last_name, email, is_staff, "
              "is_active, date_joined", ((u, "!", False, f"bench{u}", "", "", "", False, True, start) for u in users))
        _copy(cur, "annotation_membership", "role, created_at, user_id, project_id",
              (("admin" if u > N_ANNOTATORS else "annotator", start, u, 1) for u in users))
        _copy(cur, "annotation_prompt", "id, text, metadata, external_id, content_hash, created_at, project_id",
              ((i, f"Prompt {i}", "{}", "", f"{i:064x}", start, 1) for i in range(1, N_TASKS + 1)))
        pairs_of_models = {i: rng.sample(MODELS, 2) for i in range(1, N_TASKS + 1)}
        _copy(cur, "annotation_response", "id, text, source_model, metadata, content_hash, created_at, prompt_id",
              ((2 * i - 1 + j, f"Answer {j} to {i}", pairs_of_models[i][j], "{}", f"{2 * i + j:064x}", start, i)
               for i in range(1, N_TASKS + 1) for j in range(2)))
        _copy(cur, "annotation_task", "id, status, priority, target_judgements, completed_judgements, is_gold, "
              "external_id, metadata, content_hash, created_at, project_id, prompt_id",
              ((i, "complete", 0.0, OVERLAP, OVERLAP, False, "", "{}", f"{i:064x}", start, 1, i)
               for i in range(1, N_TASKS + 1)))
        _copy(cur, "annotation_taskslot", "position, response_id, task_id",
              ((j, 2 * i - 1 + j, i) for i in range(1, N_TASKS + 1) for j in range(2)))
        judgements, pairs = [], []
        for i in range(1, N_TASKS + 1):
            a, b = 2 * i - 1, 2 * i
            m_a, m_b = pairs_of_models[i]
            p_a = QUALITY[m_a] / (QUALITY[m_a] + QUALITY[m_b])
            better, worse = (a, b) if rng.random() < p_a else (b, a)
            when = start + timedelta(seconds=14 * 86400 * i / N_TASKS)
            for annotator in rng.sample(range(1, N_ANNOTATORS + 1), OVERLAP):
                shown = [a, b] if rng.random() < 0.5 else [b, a]
                ranking = answer(behaviour(annotator), rng, better, worse, shown)
                k = len(judgements) + 1
                duration = 1200 if behaviour(annotator) == "tie" else int(rng.lognormvariate(9.5, 0.5))
                judgements.append((k, Jsonb(ranking), None if len(ranking) == 1 else 1, False,
                                   Jsonb({"helpfulness": ranking}), "", duration, Jsonb(shown), False, when,
                                   annotator, k, i, 0, Jsonb([]), 1))
                tie = len(ranking) == 1
                chosen, rejected = (ranking[0][0], ranking[0][1]) if tie else (ranking[0][0], ranking[1][0])
                pairs.append((0.0 if tie else 2.0, None if tie else 1, "", tie, "human", 1.0, "{}", when, annotator,
                              k, 1, i, chosen, rejected))
        _copy(cur, "annotation_assignment", "id, display_order, status, skip_reason, created_at, expires_at, "
              "finished_at, annotator_id, project_id, task_id",
              ((j[0], j[7], "submitted", "", j[9], j[9] + timedelta(minutes=10), j[9], j[10], 1, j[12])
               for j in judgements))
        _copy(cur, "annotation_judgement", "id, ranking, strength, both_bad, criteria, rationale, duration_ms, "
              "display_order, is_surplus, created_at, annotator_id, assignment_id, task_id, revision, history, "
              "rubric_id", judgements)
        _copy(cur, "annotation_preferencepair", "margin, strength, criterion, is_tie, source, weight, provenance, "
              "created_at, annotator_id, judgement_id, project_id, prompt_id, chosen_id, rejected_id", pairs)
        skipped = len(judgements)
        _copy(cur, "annotation_assignment", "id, display_order, status, skip_reason, created_at, expires_at, "
              "finished_at, annotator_id, project_id, task_id",
              ((skipped + s, "[]", "skipped", "unclear", now, now, now, rng.randint(1, N_ANNOTATORS), 1,
                rng.randint(1, N_TASKS)) for s in range(1, 5001)))
        for table in ("auth_user", "annotation_project", "annotation_prompt", "annotation_response", "annotation_task",
                      "annotation_taskslot", "annotation_assignment", "annotation_judgement",
                      "annotation_preferencepair", "annotation_membership", "annotation_rubric"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
    with psycopg.connect(db_url(db), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"seeded {db}: {N_TASKS} tasks, {len(judgements)} judgements in {time.perf_counter() - started:.0f} s")


def run(db: str, repeat: int) -> None:
    os.environ.update(env_for(db))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.cache import cache
    from django.test import Client

    from annotation.models import Judgement, Task
    from config.celery_app import app

    client = Client()
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username=f"bench{N_ANNOTATORS + 1}"))
    pages = {"agreement page": "/projects/1/quality/agreement/", "annotators page": "/projects/1/quality/annotators/",
             "dashboard page": "/train/projects/1/quality/", "leaderboard page": "/projects/1/leaderboard/",
             "agreement API": "/api/v1/projects/1/quality/agreement/",
             "agreement API, criterion": "/api/v1/projects/1/quality/agreement/?criterion=helpfulness",
             "annotators API": "/api/v1/projects/1/quality/annotators/", "leaderboard API": "/api/v1/projects/1/leaderboard/"}

    def timed(url, ok=(200,)) -> float:
        t0 = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - t0) * 1000
        assert response.status_code in ok, (url, response.status_code, response.content[:300])
        return elapsed

    from annotation.quality.units import quality_refresh

    client.get("/projects/1/")  # the process's first request imports and compiles what every view needs
    cache.clear()
    results = {}
    for name, url in pages.items():  # nothing computed yet: "computing…" pages, 202 from the API
        t0 = time.perf_counter()
        response = client.get(url)
        results[name] = {"cold_ms": round((time.perf_counter() - t0) * 1000), "cold_status": response.status_code,
                         "cold_says_computing": response.status_code == 202 or b"Computing" in response.content}
    # The worker's part: each number the cold views queued, computed once as quality_refresh does.
    worker = {}
    for number, params in (("agreement", ("", None)), ("agreement", ("helpfulness", None)), ("annotators", ()),
                           ("dashboard", ()), ("leaderboard", ("",))):
        t0 = time.perf_counter()
        quality_refresh(project_id=1, name=number, params=list(params))
        worker[f"{number}{'/' + params[0] if params and params[0] else ''}"] = round(time.perf_counter() - t0, 2)
    for name, url in pages.items():
        warm = sorted(timed(url) for _ in range(repeat))
        results[name].update({"warm_median_ms": round(statistics.median(warm), 1),
                              "warm_p95_ms": round(warm[int(0.95 * (len(warm) - 1))], 1)})
    # A new judgement: every number is now out of date; the cached ones are served while refreshes queue.
    task = Task.objects.get(pk=1)
    Judgement.objects.create(task=task, annotator_id=N_ANNOTATORS + 1, ranking=[[1], [2]], display_order=[1, 2],
                             duration_ms=5000, criteria={"helpfulness": [[1], [2]]})
    for name, url in pages.items():
        stale = []
        for _ in range(max(3, repeat // 4)):
            cache.delete("quality:v2:1:stamp")  # as if the stamp interval had passed: checked in the request
            stale.append(timed(url))
        results[name]["stale_median_ms"] = round(statistics.median(stale), 1)
    Judgement.objects.filter(annotator_id=N_ANNOTATORS + 1).delete()
    app.control.purge()
    print(json.dumps({"judgements": Judgement.objects.count(), "tasks": Task.objects.count(),
                      "load": os.getloadavg(), "worker_refresh_s": worker, "results": results}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["seed", "run"])
    parser.add_argument("--db", default=os.environ.get("BENCH_DB", "verdict_bench_quality"))
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    seed(args.db) if args.command == "seed" else run(args.db, args.repeat)


if __name__ == "__main__":
    main()
