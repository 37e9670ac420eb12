"""A threaded server on PostgreSQL holds a bounded number of connections, however many requests
arrive at once (the psycopg pool), and none of them fails for want of a connection."""
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from tests import factories

ROOT = Path(__file__).resolve().parent.parent
POOL = 4
pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _connections(db_name: str, *, ours: list[int]) -> int:
    """Connections to the test database other than this test process's own."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND NOT pid = ANY(%s)",
                       [db_name, ours + [_backend_pid()]])
        return cursor.fetchone()[0]


def test_runserver_under_a_burst_stays_within_the_pool(transactional_db):
    user = factories.member(factories.ProjectFactory(), "annotator")
    token = Token.objects.create(user=user).key
    db = connection.settings_dict
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_POOL_MAX_SIZE": str(POOL),
           "DATABASE_POOL_MIN_SIZE": "1", "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/api/v1/projects/"

    def get(_=None) -> int:
        request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    try:
        for _ in range(100):
            try:
                get()
                break
            except OSError:
                time.sleep(0.2)
        peak, done, main_pid = [0], threading.Event(), _backend_pid()

        def sample():
            try:
                while not done.is_set():
                    peak[0] = max(peak[0], _connections(db["NAME"], ours=[main_pid]))
                    time.sleep(0.01)
            finally:
                connection.close()

        sampler = threading.Thread(target=sample)
        sampler.start()
        with ThreadPoolExecutor(32) as pool:
            statuses = list(pool.map(get, range(240)))
        done.set()
        sampler.join()
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert statuses.count(200) == len(statuses), {s: statuses.count(s) for s in set(statuses)}
    assert 1 <= peak[0] <= POOL, f"{peak[0]} connections open at the peak; the pool allows {POOL}"
