"""Load benchmark of the annotator API: simulated annotators over HTTP against gunicorn + PostgreSQL.

    .venv/bin/python benchmarks/annotation_load.py seed              # verdict_bench: 100k tasks, 300k judgements
    .venv/bin/python benchmarks/annotation_load.py run --rates 10 25 50 --seconds 30
    .venv/bin/python benchmarks/annotation_load.py explain           # plans of the hot queries

`seed` (re)creates a separate database (default verdict_bench), migrates it and fills it with COPY:
one pairwise project with overlap 4, 100 annotators with API tokens, 100k prompts, 200k responses,
100k tasks (60k complete, 30k half done, 10k fresh), 300k historical judgements with their leases
and 300k preference pairs.

`run` starts gunicorn on loopback and offers an *open-loop* load: judgements arrive on a fixed
schedule whatever the server does, each one an idle annotator doing POST next-task then POST
judgement. Latency is measured per request, from the moment it was sent; a request that starts
late because the client fell behind is counted in "late starts". Loops and runs are bounded.
"""
import argparse
import http.client
import io
import json
import os
import queue
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("BENCH_DB", "verdict_bench")
DB_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME
HOST, PORT = "127.0.0.1", int(os.environ.get("BENCH_PORT", "8765"))
N_TASKS, N_ANNOTATORS, OVERLAP = 100_000, 100, 4
COMPLETE_TASKS, HALF_TASKS = 60_000, 30_000  # 60k x 4 + 30k x 2 = 300k judgements


def server_env() -> dict:
    return {**os.environ, "DATABASE_URL": DB_URL, "DEBUG": "0", "SECRET_KEY": "benchmark-only-secret",
            "ALLOWED_HOSTS": HOST, "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/11"),
            # Production's shared cache (throttles, lockouts, renderings), as docker-compose sets it.
            "CACHE_URL": os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/2")}


# ---------------------------------------------------------------- seeding

def _copy(cur, table: str, columns: str, rows) -> int:
    n = 0
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def seed() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
        admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=server_env(), check=True)
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    past = now - timedelta(days=3)
    started = time.perf_counter()
    with psycopg.connect(DB_URL) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO annotation_project (id, name, description, instructions, mode, strength_scale,
                       allow_ties, allow_both_bad, rationale_required, overlap, lease_seconds, gold_rate, created_at)
                       VALUES (1, 'Benchmark', '', 'Pick the better answer.', 'pairwise',
                       '["negligibly better", "slightly better", "clearly better", "much better"]', true, true,
                       false, %s, 600, 0, %s)""", (OVERLAP, past))
        password = "!"  # unusable password: the benchmark authenticates with tokens
        _copy(cur, "auth_user", "id, password, is_superuser, username, first_name, last_name, email, is_staff, "
              "is_active, date_joined",
              ((u, password, False, f"bench{u}", "", "", "", False, True, past) for u in range(1, N_ANNOTATORS + 1)))
        _copy(cur, "annotation_membership", "role, created_at, user_id, project_id",
              (("annotator", past, u, 1) for u in range(1, N_ANNOTATORS + 1)))
        _copy(cur, "authtoken_token", "key, created, user_id",
              ((f"{u:040x}", past, u) for u in range(1, N_ANNOTATORS + 1)))
        _copy(cur, "annotation_prompt", "id, text, metadata, external_id, content_hash, created_at, project_id",
              ((i, f"Prompt {i}: explain topic {i % 977} to a curious student in a few sentences.", "{}", f"p{i}",
                f"{i:064x}", past, 1) for i in range(1, N_TASKS + 1)))
        response_text = "A reasonably long answer that explains the topic step by step. " * 6
        _copy(cur, "annotation_response", "id, text, source_model, metadata, content_hash, created_at, prompt_id",
              ((2 * i - 1 + j, f"[{j}] {response_text}", f"model-{j}", "{}", f"{2 * i + j:064x}", past, i)
               for i in range(1, N_TASKS + 1) for j in range(2)))

        def task_state(i):
            if i <= COMPLETE_TASKS:
                return "complete", OVERLAP
            return ("open", 2) if i <= COMPLETE_TASKS + HALF_TASKS else ("open", 0)

        _copy(cur, "annotation_task", "id, status, priority, target_judgements, completed_judgements, is_gold, "
              "external_id, metadata, content_hash, created_at, project_id, prompt_id",
              ((i, task_state(i)[0], rng.random(), OVERLAP, task_state(i)[1], False, f"t{i}", "{}", f"{i:064x}",
                past, 1, i) for i in range(1, N_TASKS + 1)))
        _copy(cur, "annotation_taskslot", "position, response_id, task_id",
              ((j, 2 * i - 1 + j, i) for i in range(1, N_TASKS + 1) for j in range(2)))

        judgements = [(i, j) for i in range(1, COMPLETE_TASKS + HALF_TASKS + 1)
                      for j in range(OVERLAP if i <= COMPLETE_TASKS else 2)]
        _copy(cur, "annotation_assignment", "id, display_order, status, skip_reason, created_at, expires_at, "
              "finished_at, annotator_id, project_id, task_id",
              ((k, f"[{2 * i - 1}, {2 * i}]", "submitted", "", past, past + timedelta(minutes=10), past,
                (i * OVERLAP + j) % N_ANNOTATORS + 1, 1, i) for k, (i, j) in enumerate(judgements, start=1)))
        _copy(cur, "annotation_judgement", "id, ranking, strength, both_bad, criteria, rationale, duration_ms, "
              "display_order, is_surplus, created_at, annotator_id, assignment_id, task_id, revision, history",
              ((k, f"[[{2 * i - 1}], [{2 * i}]]", 1, False, "{}", "", 9000, f"[{2 * i - 1}, {2 * i}]", False,
                past, (i * OVERLAP + j) % N_ANNOTATORS + 1, k, i, 0, "[]")
               for k, (i, j) in enumerate(judgements, start=1)))
        _copy(cur, "annotation_preferencepair", "margin, strength, criterion, is_tie, source, weight, provenance, "
              "created_at, annotator_id, judgement_id, project_id, prompt_id, chosen_id, rejected_id",
              ((2.0, 1, "", False, "human", 1.0, "{}", past, (i * OVERLAP + j) % N_ANNOTATORS + 1, k, 1, i,
                2 * i - 1, 2 * i) for k, (i, j) in enumerate(judgements, start=1)))
        for table in ("auth_user", "annotation_project", "annotation_prompt", "annotation_response", "annotation_task",
                      "annotation_taskslot", "annotation_assignment", "annotation_judgement",
                      "annotation_preferencepair", "annotation_membership"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"seeded {DB_NAME}: {N_TASKS} tasks, {len(judgements)} judgements in {time.perf_counter() - started:.0f} s")


def reset_run_state() -> None:
    """Back to the seeded state, so every run starts from the same queue."""
    with psycopg.connect(DB_URL) as conn:
        conn.execute("DELETE FROM annotation_preferencepair WHERE created_at > now() - interval '1 day'")
        conn.execute("DELETE FROM annotation_judgement WHERE created_at > now() - interval '1 day'")
        conn.execute("DELETE FROM annotation_assignment WHERE created_at > now() - interval '1 day'")
        conn.execute("""UPDATE annotation_task SET status = CASE WHEN id <= %s THEN 'complete' ELSE 'open' END,
                        completed_judgements = CASE WHEN id <= %s THEN %s WHEN id <= %s THEN 2 ELSE 0 END
                        WHERE id > %s""", (COMPLETE_TASKS, COMPLETE_TASKS, OVERLAP, COMPLETE_TASKS + HALF_TASKS,
                                           COMPLETE_TASKS))
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE annotation_task, annotation_assignment, annotation_judgement")


# ---------------------------------------------------------------- load

_local = threading.local()


_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def _request(path: str, token: str, body: dict | None) -> tuple[int, bytes, float, bool]:
    """(status, body, ms, retried). Like a browser, a request that finds its idle keep-alive
    connection closed by the server is sent once more on a new one (safe: both calls are idempotent);
    its latency counts from the first attempt."""
    payload = json.dumps(body or {})
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    started = time.perf_counter()
    for attempt in range(2):
        conn = getattr(_local, "conn", None)
        reused = conn is not None
        if conn is None:
            conn = _local.conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
        try:
            conn.request("POST", path, body=payload, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, data, (time.perf_counter() - started) * 1000, attempt > 0
        except (http.client.HTTPException, OSError) as exc:
            conn.close()
            _local.conn = None
            if not (reused and attempt == 0 and isinstance(exc, _STALE)):
                raise
    raise AssertionError("unreachable")


def one_judgement(token_pool: queue.Queue, stats: dict, lock: threading.Lock) -> None:
    token = token_pool.get()
    try:
        status, data, next_ms, retried = _request("/api/v1/projects/1/next-task/", token, None)
        with lock:
            stats["next"].append(next_ms)
            stats["retries"] += retried
        if status == 204:
            with lock:
                stats["empty"] += 1
            return
        if status != 200:
            with lock:
                stats["errors"].append(status)
            return
        lease = json.loads(data)
        ids = [r["id"] for r in lease["task"]["responses"]]
        answer = {"ranking": [[ids[0]], [ids[1]]], "strength": random.randrange(4), "duration_ms": 8000}
        status, _, submit_ms, retried = _request(f"/api/v1/assignments/{lease['assignment_id']}/judgement/",
                                                 token, answer)
        with lock:
            stats["submit"].append(submit_ms)
            stats["retries"] += retried
            if status == 201:
                stats["done"] += 1
            else:
                stats["errors"].append(status)
    except Exception as exc:  # noqa: BLE001 - a benchmark reports errors, it does not stop on them
        with lock:
            stats["errors"].append(type(exc).__name__)
    finally:
        token_pool.put(token)


def _cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def offered_load(rate: float, seconds: float) -> dict:
    token_pool: queue.Queue = queue.Queue()
    for u in random.sample(range(1, N_ANNOTATORS + 1), N_ANNOTATORS):
        token_pool.put(f"{u:040x}")
    stats = {"next": [], "submit": [], "errors": [], "done": 0, "empty": 0, "late": 0, "retries": 0}
    lock = threading.Lock()
    total = int(rate * seconds)
    cpu_before, client_before = _cpu_times(), time.process_time()
    with ThreadPoolExecutor(max_workers=48) as pool:
        start = time.perf_counter()
        for i in range(total):  # bounded: exactly rate x seconds arrivals
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.005:
                stats["late"] += 1
            pool.submit(one_judgement, token_pool, stats, lock)
        schedule_end = time.perf_counter()
    elapsed = time.perf_counter() - start
    (busy_after, all_after), (busy_before, all_before) = _cpu_times(), cpu_before
    cores = os.cpu_count() or 1
    return {"rate": rate, "arrivals": total, "elapsed_s": elapsed, "schedule_s": schedule_end - start,
            "judgements_per_s": stats["done"] / max(elapsed, seconds),
            "machine_cpu_pct": 100 * (busy_after - busy_before) / max(all_after - all_before, 1),
            "client_cpu_pct": 100 * (time.process_time() - client_before) / elapsed / cores, **stats}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def start_gunicorn(workers: int, threads: int, worker_class: str) -> subprocess.Popen:
    command = [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi:application", "-b", f"{HOST}:{PORT}",
               "-w", str(workers), "-k", worker_class, "--threads", str(threads), "--keep-alive", "10",
               "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=ROOT, env=server_env(), start_new_session=True)
    for _ in range(100):  # bounded wait for the port
        try:
            http.client.HTTPConnection(HOST, PORT, timeout=1).request("GET", "/accounts/login/")
            return server
        except OSError:
            time.sleep(0.2)
    os.killpg(server.pid, signal.SIGTERM)
    raise RuntimeError("gunicorn did not start")


def _machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 "unknown CPU")
    with psycopg.connect(DB_URL) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return f"{os.cpu_count()} cores ({model}), PostgreSQL {pg}, Python {sys.version.split()[0]}"


def run(rates: list[float], seconds: float, workers: int, threads: int, worker_class: str) -> None:
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {_machine()}; gunicorn {worker_class} "
          f"{workers} workers x {threads} threads; {seconds:g} s per offered rate", flush=True)
    reset_run_state()
    server = start_gunicorn(workers, threads, worker_class)
    try:
        offered_load(5, 4)  # warm up connections and caches
        reset_run_state()
        rows = []
        for rate in rates:
            result = offered_load(rate, seconds)
            rows.append(result)
            print(json.dumps({k: v for k, v in result.items() if k not in ("next", "submit")} |
                             {"errors": result["errors"][:10], "n_errors": len(result["errors"])}), flush=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    out = io.StringIO()
    out.write("| offered judgements/s | achieved judgements/s | next-task p50 / p95 / p99 ms | "
              "judgement p50 / p95 / p99 ms | errors | late starts | retries | machine CPU % (load generator) |\n"
              "|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        out.write(f"| {r['rate']:g} | {r['judgements_per_s']:.1f} | "
                  f"{pct(r['next'], 50):.1f} / {pct(r['next'], 95):.1f} / {pct(r['next'], 99):.1f} | "
                  f"{pct(r['submit'], 50):.1f} / {pct(r['submit'], 95):.1f} / {pct(r['submit'], 99):.1f} | "
                  f"{len(r['errors'])} | {r['late']} | {r['retries']} | "
                  f"{r['machine_cpu_pct']:.0f} ({r['client_cpu_pct']:.0f}) |\n")
    print(out.getvalue())
    check_invariants()


def check_invariants() -> None:
    with psycopg.connect(DB_URL) as conn:
        over = conn.execute("""SELECT count(*) FROM annotation_task t WHERE t.completed_judgements >
                               t.target_judgements OR t.completed_judgements <> (SELECT count(*) FROM
                               annotation_judgement j WHERE j.task_id = t.id AND NOT j.is_surplus)""").fetchone()[0]
        twice = conn.execute("""SELECT count(*) FROM (SELECT 1 FROM annotation_judgement GROUP BY task_id,
                                annotator_id HAVING count(*) > 1) d""").fetchone()[0]
    print(f"invariants: tasks over target or miscounted = {over}, judged twice = {twice}")


def explain() -> None:
    """The plan of the claim query exactly as annotation.services.queue sends it, for annotator 1."""
    os.environ.update(server_env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone as django_timezone

    from annotation.services import queue as task_queue

    params = {"project": 1, "gold": False, "user": 1, "now": django_timezone.now()}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + task_queue._candidate_sql(rejected=[]), params)
        for row in cursor.fetchall():
            print(row[0])
        transaction.set_rollback(True)  # EXPLAIN ANALYZE took the row lock; give it back


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("seed")
    sub.add_parser("explain")
    run_parser = sub.add_parser("run")
    run_parser.add_argument("--rates", type=float, nargs="+", default=[10, 25, 50])
    run_parser.add_argument("--seconds", type=float, default=30)
    run_parser.add_argument("--workers", type=int, default=2)
    run_parser.add_argument("--threads", type=int, default=8)
    run_parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    args = parser.parse_args()
    if args.command == "seed":
        seed()
    elif args.command == "explain":
        explain()
    else:
        run(args.rates, args.seconds, args.workers, args.threads, args.worker_class)


if __name__ == "__main__":
    main()
