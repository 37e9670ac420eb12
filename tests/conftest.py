import pytest

from tests import factories


@pytest.fixture
def project(db):
    return factories.ProjectFactory()


@pytest.fixture
def annotator(project):
    return factories.member(project, "annotator")


@pytest.fixture
def project_admin(project):
    return factories.member(project, "admin")


@pytest.fixture
def ml_engineer(project):
    return factories.member(project, "ml")


def start_celery_worker(*, env: dict | None = None, output=None, queues: str = "default,training"):
    """A real Celery worker process on Redis, using this test's PostgreSQL database; returns once it
    answers a ping. `output` (a file) takes its log instead of a pipe nobody reads."""
    import os
    import subprocess
    import sys
    import time

    from django.db import connection

    from config.celery_app import app

    db = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-Q", queues,
         "--loglevel", "WARNING", "--without-heartbeat", "--without-mingle", "--without-gossip"],
        env=env, stdout=output or subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    app.conf.task_always_eager = False
    deadline = time.monotonic() + 120  # a loaded CI machine can take a minute to import everything
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited early:\n{proc.stdout.read() if proc.stdout else ''}")
        if app.control.ping(timeout=0.5):
            return proc
    proc.kill()
    raise RuntimeError("Celery worker did not answer a ping within 120 s")


def stop_celery_worker(proc) -> None:
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def live_worker(transactional_db):
    """A real Celery worker process on Redis, using this test's PostgreSQL database."""
    from config.celery_app import app

    proc = None
    try:
        proc = start_celery_worker()
        yield proc
    finally:
        app.conf.task_always_eager = True
        if proc is not None:
            stop_celery_worker(proc)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle and lockout counters live in the shared (Redis) cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _task_numbers_per_test():
    """factories.task numbers its prompts; each test counts from 1, so a test's prompts (and the
    train/validation split they hash to) do not depend on which tests ran before it."""
    factories.task.counter = 0
