"""The embedded default of `make run`: SQLite, the file-system broker and a real worker process.

Runs in subprocesses with none of the test environment, exactly as a newcomer's first run would.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.integration

CHECK = textwrap.dedent("""
    from django.test import Client
    from annotation.models import Assignment, Judgement, Project
    from annotation.tasks import health_check

    client = Client()
    assert client.login(username="demo-annotator", password="verdict-demo")
    for project in Project.objects.all():
        page = client.get(f"/projects/{project.id}/annotate/")
        assert page.status_code == 200, (project.name, page.status_code)
        claimed = client.post(f"/api/v1/projects/{project.id}/next-task/")
        assert claimed.status_code == 200, (project.name, claimed.status_code, claimed.content[:300])
    # The workspace's prefetch path on SQLite: answer the current task while the next one is shown.
    pairwise = Project.objects.get(mode="pairwise")
    held = {a.status: a for a in Assignment.objects.filter(project=pairwise, annotator__username="demo-annotator")}
    answer = {"overall": "tie", "c-helpfulness": "A", "c-harmlessness": "tie", "c-honesty": "B",
              "shown": str(held["prefetched"].pk)}
    saved = client.post(f"/projects/{pairwise.id}/annotate/{held['active'].pk}/submit/", answer, HTTP_HX_REQUEST="true")
    assert saved.status_code == 200 and Judgement.objects.filter(assignment=held["active"]).exists()
    assert Assignment.objects.get(pk=held["prefetched"].pk).status == "active"
    result = health_check.delay().get(timeout=60)
    assert result["ok"] and result["database"] == "sqlite", result
    print("EMBEDDED-OK")
""")


def test_run_command_setup_works_on_sqlite_with_the_file_broker(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DJANGO_SETTINGS_MODULE"}}
    env.update(DEBUG="1", VERDICT_VAR_DIR=str(tmp_path), HF_HUB_OFFLINE="1", ALLOWED_HOSTS="testserver,localhost")
    manage = [sys.executable, str(ROOT / "manage.py")]

    def run(*args):
        return subprocess.run(manage + list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    assert run("migrate", "--no-input").returncode == 0
    seeded = run("seed_demo")
    assert seeded.returncode == 0, seeded.stderr
    assert "demo-annotator" in seeded.stdout
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
                               "-Q", "default,training", "--loglevel", "WARNING"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        checked = run("shell", "-c", CHECK)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert "EMBEDDED-OK" in checked.stdout, checked.stdout + checked.stderr


TRAIN_FROM_THE_PAGE = textwrap.dedent("""
    import time
    from django.test import Client
    from django.urls import reverse
    from annotation.models import Project
    from rewardtrain.models import ModelVersion, SnapshotJob, TrainingRun

    def wait(query, what, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            row = query()
            if row.status in ("succeeded", "failed", "cancelled"):
                return row
            time.sleep(1)
        raise AssertionError(f"{what} still {row.status} after {seconds} s")

    project = Project.objects.get(mode="pairwise")
    assert project.pairs.count() == 300, project.pairs.count()
    client = Client()
    assert client.login(username="demo-ml", password="verdict-demo")
    cut = client.post(reverse("snapshot-new", args=[project.id]), {"aggregation": "every", "seed": 0, "val_fraction": 0.1})
    assert cut.status_code == 302, cut.content[:500]
    job = wait(lambda: SnapshotJob.objects.get(project=project), "snapshot job", 120)
    assert job.status == "succeeded", job.error
    snapshot = job.snapshot
    assert snapshot.train_rows > 200 and snapshot.val_rows > 10, (snapshot.train_rows, snapshot.val_rows)
    assert f'value="{snapshot.id}"' in client.get(reverse("run-list", args=[project.id])).content.decode()
    # The Train form as it comes, with the default backbone; max_steps only keeps the test short.
    started = client.post(reverse("run-new", args=[project.id]),
                          {"snapshot": snapshot.id, "epochs": 1, "lr": 5e-5, "seed": 0, "max_steps": 4})
    assert started.status_code == 302, started.content[:500]
    run = wait(lambda: TrainingRun.objects.get(project=project), "training run", 600)
    assert run.status == "succeeded", run.error
    model = ModelVersion.objects.get(run=run)
    assert model.validation_report["n"] == snapshot.val_rows, model.validation_report
    promoted = client.post(reverse("model-promote", args=[project.id, model.id]))
    assert promoted.status_code == 302 and ModelVersion.objects.get(pk=model.pk).status == "active"
    print("TRAINED-OK")
""")


def test_the_demo_project_trains_from_the_page_at_once(tmp_path):
    """`make run`'s demo holds judged pairs: snapshot → train (default backbone) → register → promote, on
    SQLite with the file broker and a real worker, driven through the pages."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DJANGO_SETTINGS_MODULE",
                        "CACHE_URL"}}
    env.update(DEBUG="1", VERDICT_VAR_DIR=str(tmp_path), HF_HUB_OFFLINE="1", ALLOWED_HOSTS="testserver,localhost")
    manage = [sys.executable, str(ROOT / "manage.py")]

    def run(*args, timeout=300):
        return subprocess.run(manage + list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)

    assert run("migrate", "--no-input").returncode == 0
    assert run("seed_demo").returncode == 0
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
                               "-Q", "default,training", "--loglevel", "WARNING"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        checked = run("shell", "-c", TRAIN_FROM_THE_PAGE, timeout=900)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert "TRAINED-OK" in checked.stdout, checked.stdout + checked.stderr


def test_make_run_announces_the_url_only_when_the_server_answers(tmp_path):
    import signal
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DJANGO_SETTINGS_MODULE"}}
    env.update(VERDICT_VAR_DIR=str(tmp_path), PORT=str(port))
    proc = subprocess.Popen(["bash", str(ROOT / "scripts/run.sh")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if "Verdict is running at" in line:
                break
        else:
            pytest.fail("run.sh ended without announcing the URL:\n" + "".join(seen))
        assert f"http://127.0.0.1:{port}/" in seen[-1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as page:
            assert page.status == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


WHILE_A_RUN_TRAINS = textwrap.dedent("""
    import time
    from django.test import Client
    from django.urls import reverse
    from annotation.models import Project
    from rewardtrain.models import SnapshotJob, TrainingMetric, TrainingRun

    def wait(what, seconds, done):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            row = done()
            if row is not None:
                return row
            time.sleep(0.5)
        raise AssertionError(f"{what} not within {seconds} s")

    def snapshot_cut():
        cut = client.post(reverse("snapshot-new", args=[project.id]), {"aggregation": "every", "seed": 0,
                                                                       "val_fraction": 0.1})
        assert cut.status_code == 302, cut.content[:500]
        job = SnapshotJob.objects.filter(project=project).latest("id")
        return wait(f"snapshot job {job.id}", 180, lambda: SnapshotJob.objects.filter(
            pk=job.pk, status__in=("succeeded", "failed")).first())

    project = Project.objects.get(mode="pairwise")
    client = Client()
    assert client.login(username="demo-ml", password="verdict-demo")
    first = snapshot_cut()
    assert first.status == "succeeded", first.error
    # A run that trains far longer than this test: 1000 epochs.
    started = client.post(reverse("run-new", args=[project.id]),
                          {"snapshot": first.snapshot_id, "epochs": 1000, "lr": 5e-5, "seed": 0})
    assert started.status_code == 302, started.content[:500]
    run = TrainingRun.objects.get(project=project)
    wait("the run's claim", 180, lambda: TrainingRun.objects.filter(pk=run.pk, status="running").first())
    second = snapshot_cut()  # the default queue's worker is free while the training worker trains
    assert second.status == "succeeded", second.error
    assert TrainingRun.objects.get(pk=run.pk).status == "running"
    print("SNAPSHOT-WHILE-TRAINING-OK", flush=True)
    cancel = client.post(reverse("run-cancel", args=[project.id, run.pk]))
    assert cancel.status_code == 302
    run = wait("the cancel", 120, lambda: TrainingRun.objects.filter(pk=run.pk, status="cancelled").first())
    print("CANCELLED-OK", run.error, TrainingMetric.objects.filter(run=run).count(), flush=True)
""")


def _stop_group(proc) -> None:
    """Stops run.sh and everything it started. A worker still inside a task shuts down only once the
    task ends (Celery's warm shutdown): after 30 s the whole group is killed."""
    import signal
    import time

    os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_make_run_keeps_snapshots_moving_while_a_run_trains(tmp_path):
    """`make run` trains on a worker of its own: a snapshot job (like imports and webhooks, on the
    default queue) finishes while a long run trains, and both workers share the SQLite file."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DJANGO_SETTINGS_MODULE",
                        "CACHE_URL"}}
    env.update(VERDICT_VAR_DIR=str(tmp_path), PORT=str(port), ALLOWED_HOSTS="testserver,localhost,127.0.0.1")
    proc = subprocess.Popen(["bash", str(ROOT / "scripts/run.sh")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        for line in proc.stdout:
            if "Verdict is running at" in line:
                break
        else:
            pytest.fail("run.sh ended without announcing the URL")
        env["DEBUG"] = "1"
        checked = subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-c", WHILE_A_RUN_TRAINS],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    finally:
        _stop_group(proc)
    logs = "".join(f"\n--- {log.name}\n{log.read_text()[-3000:]}" for log in sorted(tmp_path.glob("*.log")))
    assert "SNAPSHOT-WHILE-TRAINING-OK" in checked.stdout, checked.stdout + checked.stderr + logs
    assert "CANCELLED-OK" in checked.stdout, checked.stdout + checked.stderr + logs
