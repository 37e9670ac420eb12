"""Where one annotator request's CPU goes: next-task + judgement through the full production middleware
stack (Django's test client: the same handler, middleware, DRF, token auth, throttles, PostgreSQL and the
Redis cache as gunicorn, without the socket), with each hardening piece switched off in turn.

    .venv/bin/python benchmarks/profile_annotation.py [--pairs 300] [--repeats 2] [--profile]

After each request the database connection is released as a server does (`close_old_connections`:
back to the pool, or kept when persistent). Setup: a fresh database (verdict_h6_prof), a pairwise
project of 8,000 tasks, 40 annotators with API tokens; CACHE_URL must point at Redis (as in
production). Each variant runs in its own process (the pool and the middleware are fixed at start-up),
warms up on 30 pairs, then times `--pairs` pairs and prints CPU ms of this process (Django + DRF +
client libraries; PostgreSQL's and Redis's own CPU is not in it) and wall ms per pair. `--profile`
adds one profiled baseline run (cProfile on CPU time, top functions, saved under /tmp/imports/).
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, setup  # noqa: E402

DB = "verdict_h6_prof"
VARIANTS = {  # name -> (settings changes applied before the client is built, environment)
    "baseline (all on)": ({}, {}),
    "Django's RedisCache": ({"cache": "django.core.cache.backends.redis.RedisCache"}, {}),
    "no DRF throttle": ({"throttle": False}, {}),
    "no axes middleware": ({"drop": ["axes.middleware.AxesMiddleware"]}, {}),
    "no CSP middleware": ({"drop": ["csp.middleware.CSPMiddleware"]}, {}),
    "no body-limit middleware": ({"drop": ["config.security.BodyLimitMiddleware"]}, {}),
    "no pool (persistent conn)": ({}, {"DATABASE_POOL_MAX_SIZE": "0", "DATABASE_CONN_MAX_AGE": "600"}),
    "none of these": ({"throttle": False, "drop": ["axes.middleware.AxesMiddleware", "csp.middleware.CSPMiddleware",
                                                   "config.security.BodyLimitMiddleware"]},
                      {"DATABASE_POOL_MAX_SIZE": "0", "DATABASE_CONN_MAX_AGE": "600"}),
}


def seed() -> None:
    setup(DB, fresh=True)
    import io

    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from annotation.models import Membership
    from annotation.services.imports.tasks import tasks_import
    from annotation.services.projects import project_create

    project = project_create(name="profile")
    rows = "".join(json.dumps({"prompt": f"Question {i}?", "responses": [f"yes {i}", f"no {i}"]}) + "\n"
                   for i in range(8000)).encode()
    tasks_import(project=project, fileobj=io.BytesIO(rows), filename="tasks.jsonl")
    for i in range(40):
        user = get_user_model().objects.create(username=f"annotator{i}")
        Membership.objects.create(project=project, user=user, role="annotator")
        Token.objects.create(user=user)


def measure(name: str, pairs: int, profile: bool) -> dict:
    changes, _ = VARIANTS[name]
    setup(DB)
    from django.conf import settings
    from django.db import close_old_connections
    from django.test import Client, override_settings
    from rest_framework.authtoken.models import Token

    from annotation.models import Project

    overrides = {"ALLOWED_HOSTS": ["testserver"]}
    if changes.get("drop"):
        overrides["MIDDLEWARE"] = [m for m in settings.MIDDLEWARE if m not in changes["drop"]]
    if changes.get("cache"):
        overrides["CACHES"] = {"default": {**settings.CACHES["default"], "BACKEND": changes["cache"]}}
    if changes.get("throttle") is False:
        overrides["REST_FRAMEWORK"] = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
    with override_settings(**overrides):
        project = Project.objects.get(name="profile")
        tokens = list(Token.objects.values_list("key", flat=True))
        client = Client()

        def one(i: int) -> None:
            auth = {"HTTP_AUTHORIZATION": f"Token {tokens[i % len(tokens)]}"}
            lease = client.post(f"/api/v1/projects/{project.pk}/next-task/", **auth)
            close_old_connections()  # what a server does after each request (the test client does not)
            assert lease.status_code == 200, (lease.status_code, lease.content[:300])
            body = lease.json()
            ids = [r["id"] for r in body["task"]["responses"]]
            done = client.post(f"/api/v1/assignments/{body['assignment_id']}/judgement/",
                               json.dumps({"ranking": [[ids[0]], [ids[1]]], "strength": 1, "duration_ms": 8000}),
                               content_type="application/json", **auth)
            close_old_connections()
            assert done.status_code == 201, (done.status_code, done.content[:300])

        for i in range(30):
            one(i)
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile(time.process_time)  # CPU time: waiting on PostgreSQL is not the question
            profiler.enable()
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(30, 30 + pairs):
            one(i)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if profiler:
            import pstats

            profiler.disable()
            profiler.dump_stats(os.environ.get("PROFILE_DUMP", "/tmp/imports/profile.prof"))
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    return {"variant": name, "cpu_ms_per_pair": round(cpu * 1000 / pairs, 2),
            "wall_ms_per_pair": round(wall * 1000 / pairs, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--repeats", type=int, default=2, help="runs of every variant, interleaved")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not os.environ.get("CACHE_URL", "").startswith("redis"):
        raise SystemExit("Set CACHE_URL=redis://... (production's shared cache).")
    os.environ.update(DEBUG="0", DJANGO_SETTINGS_MODULE="config.settings.base")
    if args.variant:
        print(json.dumps(measure(args.variant, args.pairs, args.profile)))
        return
    seed()
    runs = [(name, False) for _ in range(args.repeats) for name in VARIANTS]
    if args.profile:
        runs.append((next(iter(VARIANTS)), True))
    results: dict[str, list] = {}
    for name, profiled in runs:
        # 8,000 tasks cover 8 variants x 3 repeats x (30 + 300) pairs; nothing is reseeded.
        cmd = [sys.executable, __file__, "--variant", name, "--pairs", str(args.pairs)] + (["--profile"] * profiled)
        out = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **VARIANTS[name][1]}, capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
        if profiled:
            path = Path(os.environ.get("PROFILE_OUT", "/tmp/imports/profile.txt"))
            path.write_text(out.stderr)
            print(f"cProfile (CPU time) of the baseline: {path}")
            continue
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results.setdefault(name, []).append(result)
        print(f"{name:<28} CPU {result['cpu_ms_per_pair']:>7.2f} ms/pair   wall {result['wall_ms_per_pair']:>7.2f} ms/pair",
              flush=True)
    print("median CPU ms/pair:", json.dumps({k: sorted(r["cpu_ms_per_pair"] for r in v)[len(v) // 2]
                                             for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
