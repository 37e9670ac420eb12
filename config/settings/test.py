"""Test settings: real PostgreSQL and Redis, never a silent fallback to SQLite or a file broker."""
import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/verdict")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("CACHE_URL", "redis://127.0.0.1:6379/13")  # throttles and lockouts: a real shared cache
# The test process itself runs without the pool: tests start many short-lived threads of their own
# (the concurrency test) that hold connections; servers started by tests get the pool (test_connections).
os.environ.setdefault("DATABASE_POOL_MAX_SIZE", "0")

from .base import *  # noqa: E402,F403
from .base import DATABASES, CELERY_BROKER_URL, VAR_DIR  # noqa: E402

if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured("Tests run on PostgreSQL: set DATABASE_URL=postgres://...")  # noqa: F405
if not CELERY_BROKER_URL.startswith("redis"):
    raise ImproperlyConfigured("Tests run against Redis: set CELERY_BROKER_URL=redis://...")  # noqa: F405

# Unit tests run tasks inline; integration tests start a real worker and switch this off.
# A test's real worker process may say CELERY_TASK_ALWAYS_EAGER=0, so the tasks it enqueues itself
# (webhook retries with a countdown) go through the broker too.
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "1") != "0"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = VAR_DIR / "test-media"
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "100000/min", "token": "1000/min"}}  # noqa: F405
