"""The training loop driven only over HTTP, against gunicorn (DEBUG off), PostgreSQL and a real Celery worker.

    .venv/bin/python benchmarks/loop_http.py [--port 8160] [--steps 8] [--pairs annotation/demo_data/demo_pairs.jsonl]

Setup (not timed, not over HTTP: pairs cannot be imported through the API): a fresh database
(verdict_h6_loop), a project with the judged pairs imported, an ML engineer with an API token.
Then gunicorn (2 workers) and one Celery worker on the queues `default,training` are started, and
every step below is a plain HTTP call with the token, timed:

  POST /projects/{p}/snapshot-jobs/ → poll GET /snapshot-jobs/{id}/ → POST /projects/{p}/training-runs/
  (the default backbone, max_steps) → poll GET /training-runs/{id}/ (progress, metrics) → GET /models/{id}/
  (validation report) → POST /models/{id}/promote/ → GET /models/{id}/download/ (zip) → the zip is
  loaded with plain transformers and scores two responses.

Prints one line per step with its wall time, and a JSON summary at the end; exits non-zero on the
first step that does not answer as the API documents.
"""
import argparse
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, setup  # noqa: E402

DB = "verdict_h6_loop"


class Api:
    def __init__(self, base: str, token: str):
        self.base, self.token = base, token

    def call(self, method: str, path: str, body: dict | None = None, expect: int = 200, raw: bool = False):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Token {self.token}", "Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        if status != expect:
            raise SystemExit(f"{method} {path}: expected {expect}, got {status}: {payload[:500]!r}")
        return payload if raw else json.loads(payload)


def _setup(pairs_file: Path) -> tuple[int, str]:
    setup(DB, fresh=True)
    from rest_framework.authtoken.models import Token

    from annotation.services.imports.pairs import pairs_import
    from annotation.services.projects import member_add, project_create
    from django.contrib.auth import get_user_model

    project = project_create(name="loop-http")
    with pairs_file.open("rb") as handle:
        pairs_import(project=project, fileobj=handle, filename=pairs_file.name, fmt="trl")
    member_add(project=project, username="loop-ml", role="ml", create_user=True)
    return project.pk, Token.objects.create(user=get_user_model().objects.get(username="loop-ml")).key


def _start(args, env: dict, logs: Path) -> list[subprocess.Popen]:
    py = sys.executable
    web = subprocess.Popen([str(Path(py).parent / "gunicorn"), "config.wsgi:application", "--bind",
                            f"127.0.0.1:{args.port}", "--workers", "2", "--timeout", "120"],
                           cwd=ROOT, env=env, stdout=(logs / "web.log").open("w"), stderr=subprocess.STDOUT,
                           start_new_session=True)
    worker = subprocess.Popen([py, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-Q", "default,training",
                               "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
                              cwd=ROOT, env=env, stdout=(logs / "worker.log").open("w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{args.port}/accounts/login/", timeout=10)
            break
        except OSError:  # refused, reset or timed out while gunicorn boots
            time.sleep(0.5)
    else:
        _stop([web, worker])
        raise SystemExit(f"gunicorn did not answer within 120 s; see {logs / 'web.log'}")
    return [web, worker]


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _poll(api: Api, path: str, seconds: float, show=None) -> dict:
    deadline, last = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        body = api.call("GET", path)
        if show and (line := show(body)) != last:
            print("   ", line, flush=True)
            last = line
        if body["status"] in ("succeeded", "failed", "cancelled"):
            return body
        time.sleep(0.5)
    raise SystemExit(f"{path}: still {body['status']} after {seconds} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8160)
    parser.add_argument("--steps", type=int, default=8, help="max_steps of the run (the default backbone)")
    parser.add_argument("--pairs", type=Path, default=ROOT / "annotation" / "demo_data" / "demo_pairs.jsonl")
    args = parser.parse_args()

    project_id, token = _setup(args.pairs)
    logs = Path(tempfile.mkdtemp(prefix="loop-http-"))
    env = {**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"], "DEBUG": "0", "DJANGO_SETTINGS_MODULE":
           "config.settings.base", "SECRET_KEY": "loop-http-benchmark-secret-key-0123456789",
           "ALLOWED_HOSTS": "127.0.0.1,localhost", "VERDICT_STORAGE_DIR": str(logs / "media"),
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    procs = _start(args, env, logs)
    api, timings = Api(f"http://127.0.0.1:{args.port}/api/v1", token), {}

    def step(name, fn):
        started = time.monotonic()
        result = fn()
        timings[name] = round(time.monotonic() - started, 2)
        print(f"{name:<28} {timings[name]:>8.2f} s", flush=True)
        return result

    try:
        job = step("snapshot job: create", lambda: api.call(
            "POST", f"/projects/{project_id}/snapshot-jobs/", {"val_fraction": 0.1}, expect=202))
        job = step("snapshot job: done", lambda: _poll(api, f"/snapshot-jobs/{job['id']}/", 300))
        if job["status"] != "succeeded":
            raise SystemExit(f"snapshot job failed: {job['error']}")
        config = {"max_steps": args.steps, "save_every": max(args.steps // 2, 1)}
        run = step("run: create", lambda: api.call("POST", f"/projects/{project_id}/training-runs/",
                                                   {"snapshot": job["snapshot"], "config": config}, expect=201))
        first_step = {}

        def show(body):
            if body["metrics"] and "at" not in first_step:
                first_step["at"] = round(time.monotonic() - created_at, 2)
            train = [m for m in body["metrics"] if m["kind"] == "train"]
            last = train[-1] if train else {}
            return f"{body['status']} {body['progress']:.0%} step {last.get('step', '-')} loss {last.get('loss', '-')}"

        created_at = time.monotonic()
        run = step("run: trained + validated", lambda: _poll(api, f"/training-runs/{run['id']}/", 1800, show))
        timings["run: first step seen"] = first_step.get("at")
        if run["status"] != "succeeded" or run["model"] is None:
            raise SystemExit(f"run {run['status']}: {run['error']}")
        model = step("model: report", lambda: api.call("GET", f"/models/{run['model']}/"))
        report = model["validation_report"]
        missing = [k for k in ("accuracy", "ece", "length_correlation", "n") if k not in report]
        if missing:
            raise SystemExit(f"validation report lacks {missing}")
        step("model: promote", lambda: api.call("POST", f"/models/{model['id']}/promote/"))
        if api.call("GET", f"/models/{model['id']}/")["status"] != "active":
            raise SystemExit("promoted model is not active")
        blob = step("model: download zip", lambda: api.call("GET", f"/models/{model['id']}/download/", raw=True))
        scores = step("zip: load + score", lambda: _score_zip(blob))
    finally:
        _stop(procs)
    print(json.dumps({"timings_s": timings, "zip_bytes": len(blob), "scores": scores, "steps": args.steps,
                      "report": {k: report[k] for k in ("n", "accuracy", "ece", "length_correlation")},
                      "logs": str(logs)}, indent=1))


def _score_zip(blob: bytes) -> list[float]:
    """The downloaded folder in plain transformers: a helpful and a dismissive answer to one prompt."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    with tempfile.TemporaryDirectory() as folder:
        zipfile.ZipFile(io.BytesIO(blob)).extractall(folder)
        roots = {p.parent for p in Path(folder).rglob("config.json")}
        root = str(roots.pop())
        tokenizer, model = AutoTokenizer.from_pretrained(root), AutoModelForSequenceClassification.from_pretrained(root)
        prompt = "How do I water a cactus?"
        texts = [prompt + "\n" + a for a in ("Water it deeply, then let the soil dry out fully before watering again.",
                                             "Just google it.")]
        with torch.no_grad():
            logits = model(**tokenizer(texts, return_tensors="pt", padding=True)).logits
        return [round(float(x), 4) for x in logits[:, 0]]


if __name__ == "__main__":
    main()
