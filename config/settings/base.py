"""Settings for every environment; each value comes from the environment with a safe default.

With nothing set, Verdict runs embedded: SQLite in ./var, a Celery broker that needs no server
(kombu's filesystem transport) and files under ./var/media. Production differs only by environment.
"""
from datetime import timedelta
from pathlib import Path
import os

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("VERDICT_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-for-DEBUG"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files, no CDN
    "django_htmx",
    "django_celery_beat",
    "annotation",
    "rewardtrain",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'verdict.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
# PostgreSQL: a bounded psycopg connection pool per process (Django's OPTIONS["pool"]), so threaded
# servers (runserver, gunicorn gthread) reuse at most DATABASE_POOL_MAX_SIZE connections instead of
# opening one per request thread; requests wait up to DATABASE_POOL_TIMEOUT s for a free one.
# 0 turns pooling off (then DATABASE_CONN_MAX_AGE applies). Budget: see README, "Connections".
DATABASE_POOL_MAX_SIZE = int(os.environ.get("DATABASE_POOL_MAX_SIZE", "8"))
if DATABASES["default"]["ENGINE"].endswith("postgresql") and DATABASE_POOL_MAX_SIZE > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django must not hold them too
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(int(os.environ.get("DATABASE_POOL_MIN_SIZE", "1")), DATABASE_POOL_MAX_SIZE),
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": float(os.environ.get("DATABASE_POOL_TIMEOUT", "20")),
    }
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes (web, worker) share the file: wait for locks instead of failing at once, and
    # take the write lock when a transaction starts, which serializes claims as SKIP LOCKED would.
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request otherwise
MEDIA_ROOT = Path(os.environ.get("VERDICT_STORAGE_DIR", VAR_DIR / "media"))
MEDIA_URL = "/media/"
STORAGES = {
    # Model artifacts and exports go through this storage: a local folder by default; point
    # VERDICT_STORAGE_BACKEND at e.g. storages.backends.s3.S3Storage in production.
    "default": {
        "BACKEND": os.environ.get("VERDICT_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"),
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Imports: a single JSONL line larger than this is reported as an error, never read whole.
VERDICT_IMPORT_MAX_LINE_BYTES = int(os.environ.get("VERDICT_IMPORT_MAX_LINE_BYTES", str(2 * 1024 * 1024)))
VERDICT_IMPORT_MAX_ERRORS = int(os.environ.get("VERDICT_IMPORT_MAX_ERRORS", "50"))
VERDICT_IMPORT_BATCH_SIZE = int(os.environ.get("VERDICT_IMPORT_BATCH_SIZE", "1000"))

# Celery: Redis in production; with no broker configured, a filesystem "broker" needs no server.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or (
    None if CELERY_BROKER_URL.startswith("filesystem") else CELERY_BROKER_URL
)
if CELERY_BROKER_URL.startswith("filesystem"):
    _celery_dir = VAR_DIR / "celery"
    for sub in ("queue", "processed", "results", "control"):
        (_celery_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "control_folder": str(_celery_dir / "control"),  # broadcast (ping, inspect) exchanges
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = CELERY_RESULT_BACKEND or f"file://{_celery_dir / 'results'}"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"rewardtrain.tasks.training_run_*": {"queue": "training"}}  # and queue= on the task
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the task for another worker
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How often the retrain loop checks each project's training policy (new judgements since its last run).
VERDICT_RETRAIN_CHECK_SECONDS = int(os.environ.get("VERDICT_RETRAIN_CHECK_SECONDS", "300"))
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    # django-celery-beat copies these into its database tables, where admins can edit them.
    "expire-leases": {"task": "annotation.tasks.expire_leases", "schedule": timedelta(minutes=1)},
    "health-check": {"task": "annotation.tasks.health_check", "schedule": timedelta(minutes=5)},
    "reap-training-runs": {"task": "rewardtrain.tasks.training_runs_reap_stale", "schedule": timedelta(minutes=1)},
    "retrain-policies": {"task": "rewardtrain.tasks.training_policies_trigger",
                         "schedule": timedelta(seconds=VERDICT_RETRAIN_CHECK_SECONDS)},
    "fail-stale-snapshot-jobs": {"task": "rewardtrain.tasks.snapshot_jobs_fail_stale",
                                 "schedule": timedelta(minutes=10)},
}
# Training runs (rewardtrain.training). A worker beats every HEARTBEAT seconds; a run whose last beat
# is older than STALE seconds is taken to have lost its worker: the minute reaper re-queues it to
# resume from its stored checkpoint while it has been started fewer than MAX_ATTEMPTS times, else
# fails it. This, not Redis's visibility timeout (an hour), bounds how long a killed run looks alive.
VERDICT_TRAINING_HEARTBEAT_SECONDS = float(os.environ.get("VERDICT_TRAINING_HEARTBEAT_SECONDS", "10"))
VERDICT_TRAINING_CANCEL_POLL_SECONDS = float(os.environ.get("VERDICT_TRAINING_CANCEL_POLL_SECONDS", "2"))
VERDICT_TRAINING_STALE_SECONDS = int(os.environ.get("VERDICT_TRAINING_STALE_SECONDS", "180"))
VERDICT_TRAINING_MAX_ATTEMPTS = int(os.environ.get("VERDICT_TRAINING_MAX_ATTEMPTS", "2"))
# auto: a worker that sees several GPUs trains under torchrun, one process per GPU (CUDA and bf16 are the
# trainer's choice); off: always in the worker's process; force:N: N processes even on the CPU (gloo).
VERDICT_TRAINING_DDP = os.environ.get("VERDICT_TRAINING_DDP", "auto")
# A snapshot job still running this long after it started has lost its worker (a cut has no heartbeat).
VERDICT_SNAPSHOT_JOB_STALE_SECONDS = int(os.environ.get("VERDICT_SNAPSHOT_JOB_STALE_SECONDS", str(6 * 3600)))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": os.environ.get("API_THROTTLE_USER", "6000/min"),
                               "token": os.environ.get("API_THROTTLE_TOKEN", "30/min")},
    "EXCEPTION_HANDLER": "annotation.api.common.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Verdict API",
    "DESCRIPTION": "Human preference annotation and reward-model training.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "TaskStatusEnum": "annotation.models.Task.Status",
        "AssignmentStatusEnum": "annotation.models.Assignment.Status",
        "TrainingRunStatusEnum": "rewardtrain.models.TrainingRun.Status",
        "SnapshotJobStatusEnum": "rewardtrain.models.SnapshotJob.Status",
        "ModelVersionStatusEnum": "rewardtrain.models.ModelVersion.Status",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
