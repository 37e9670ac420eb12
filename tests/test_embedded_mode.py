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
