"""Settings for every environment; each value comes from the environment with a safe default.

With nothing set, Verdict runs embedded: SQLite in ./var, a Celery broker that needs no server
(kombu's filesystem transport) and files under ./var/media. Production differs only by environment.
"""
from datetime import timedelta
from pathlib import Path
import os

import dj_database_url
from csp.constants import NONE, SELF
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
    # Development: a random key made once per installation and kept in the var folder (never a fixed
    # public one: sessions and the annotator pseudonyms in exports are keyed on it).
    _key_file = VAR_DIR / "secret_key"
    if not _key_file.exists():
        import secrets

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        _tmp = VAR_DIR / f".secret_key.{os.getpid()}"
        _tmp.write_text(secrets.token_urlsafe(50))
        _tmp.chmod(0o600)
        try:
            os.link(_tmp, _key_file)  # atomic and never overwrites: concurrent first starts agree on one key
        except FileExistsError:
            pass
        finally:
            _tmp.unlink()
    SECRET_KEY = _key_file.read_text().strip()
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
    "axes",
    "csp",
    "annotation",
    "rewardtrain",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security.BodyLimitMiddleware",  # before anything reads a body (CSRF reads POST)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.errors.MethodNotAllowedPageMiddleware",  # inside CSRF and CSP: its page is a normal page
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into a 429
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

AUTHENTICATION_BACKENDS = ["config.security.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]
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
# Request bodies: 413 past VERDICT_REQUEST_MAX_BYTES (every endpoint, anonymous ones too), or past
# VERDICT_UPLOAD_MAX_BYTES on the two import endpoints (the import page and POST .../batches/).
VERDICT_REQUEST_MAX_BYTES = int(os.environ.get("VERDICT_REQUEST_MAX_BYTES", str(1024 * 1024)))
# An upload over VERDICT_IMPORT_INLINE_MAX_BYTES is not imported inside the request (about 1,000
# lines/s) but saved to storage and imported by a worker as an import job, with progress; smaller ones
# are imported at once. Files over VERDICT_UPLOAD_MAX_BYTES go through `manage.py import_tasks`/`import_pairs`.
VERDICT_UPLOAD_MAX_BYTES = int(os.environ.get("VERDICT_UPLOAD_MAX_BYTES", str(20 * 1024 * 1024)))
VERDICT_IMPORT_INLINE_MAX_BYTES = int(os.environ.get("VERDICT_IMPORT_INLINE_MAX_BYTES", str(1024 * 1024)))
# An import job that reported no progress for this long lost its worker: the beat marks it failed.
VERDICT_IMPORT_JOB_STALE_SECONDS = int(os.environ.get("VERDICT_IMPORT_JOB_STALE_SECONDS", "600"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Imports: a single JSONL line larger than this is reported as an error, never read whole.
VERDICT_IMPORT_MAX_LINE_BYTES = int(os.environ.get("VERDICT_IMPORT_MAX_LINE_BYTES", str(2 * 1024 * 1024)))
VERDICT_IMPORT_MAX_ERRORS = int(os.environ.get("VERDICT_IMPORT_MAX_ERRORS", "50"))
VERDICT_IMPORT_BATCH_SIZE = int(os.environ.get("VERDICT_IMPORT_BATCH_SIZE", "1000"))
# An import stops with an error past this many bytes read (after gzip expansion) or lines.
VERDICT_IMPORT_MAX_EXPANDED_BYTES = int(os.environ.get("VERDICT_IMPORT_MAX_EXPANDED_BYTES", str(1024**3)))
VERDICT_IMPORT_MAX_LINES = int(os.environ.get("VERDICT_IMPORT_MAX_LINES", "2000000"))

# The shared cache: API throttles and login lockouts count here, so every web process must see the same
# one. Redis in production (CACHE_URL=redis://host:6379/1); a folder under var/ in the embedded default
# (shared by the processes of one host); locmem:// only for a single process.
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": CACHE_URL}}  # Django's, one client per pool
elif CACHE_URL.startswith("locmem://"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
elif CACHE_URL in ("", "file://") or CACHE_URL.startswith("file://"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": CACHE_URL.removeprefix("file://") or str(VAR_DIR / "cache"),
                          # Past MAX_ENTRIES every write culls by listing the folder: keep that rare.
                          "OPTIONS": {"MAX_ENTRIES": 50_000}}}
else:
    raise ImproperlyConfigured(f"CACHE_URL must be redis://, file:// or locmem://, not {CACHE_URL!r}.")

# Client addresses: how many reverse proxies in front of Verdict append to X-Forwarded-For. 0 (the
# default) ignores the header; set it to 1 behind one TLS-terminating proxy. DRF's throttles
# (NUM_PROXIES) and the login lockout (config.security.client_ip) both follow it.
VERDICT_TRUSTED_PROXIES = int(os.environ.get("VERDICT_TRUSTED_PROXIES", "0"))

# Login lockout (django-axes) on /accounts/login/, /admin/login/ and /api/v1/auth/token/: after
# VERDICT_LOGIN_FAILURE_LIMIT failures from one client address, or for one username, further
# attempts get 429 for VERDICT_LOGIN_COOLOFF_MINUTES. Counted in Redis when the cache is Redis (atomic
# increments); otherwise (the embedded default) in the database, which every process shares too.
AXES_HANDLER = ("axes.handlers.cache.AxesCacheHandler" if CACHES["default"]["BACKEND"].endswith("RedisCache")
                else "axes.handlers.database.AxesDatabaseHandler")
AXES_FAILURE_LIMIT = int(os.environ.get("VERDICT_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("VERDICT_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # either one locks: per address and per account
AXES_CLIENT_IP_CALLABLE = "config.security.client_ip"
# A success does not wipe the counts: it would also wipe the address's, letting anyone with one
# account reset their address between guesses at others. Counts simply expire after the cool-off.
AXES_RESET_ON_SUCCESS = False
AXES_VERBOSE = False

# Untrusted text: past these bounds a text is shown as plain text (annotation/rendering.py).
VERDICT_RENDER_MAX_CHARS = int(os.environ.get("VERDICT_RENDER_MAX_CHARS", "100000"))
VERDICT_RENDER_MAX_DEPTH = int(os.environ.get("VERDICT_RENDER_MAX_DEPTH", "16"))
VERDICT_RENDER_TIME_LIMIT = float(os.environ.get("VERDICT_RENDER_TIME_LIMIT", "0.5"))  # seconds per text or diff
# Quality numbers (annotation.quality): after new judgements, numbers computed less than this many seconds
# ago are still shown while a worker recomputes them; older ones are recomputed in the request. Whether
# judgements changed is checked at most every VERDICT_QUALITY_STAMP_SECONDS (0: on every page view).
VERDICT_QUALITY_STALE_SECONDS = float(os.environ.get("VERDICT_QUALITY_STALE_SECONDS", "86400"))
VERDICT_QUALITY_STAMP_SECONDS = float(os.environ.get("VERDICT_QUALITY_STAMP_SECONDS", "10"))
# Pages and the API compute missing quality numbers in the request only for projects of at most this many
# judgements; larger ones get "computing…" (page, polling) or 202 (API) while a worker computes them. The
# beat refreshes every project's numbers after new judgements, every VERDICT_QUALITY_REFRESH_SECONDS.
VERDICT_QUALITY_INLINE_JUDGEMENTS = int(os.environ.get("VERDICT_QUALITY_INLINE_JUDGEMENTS", "5000"))
VERDICT_QUALITY_REFRESH_SECONDS = int(os.environ.get("VERDICT_QUALITY_REFRESH_SECONDS", "120"))
# Agreement with the active reward model (rewardtrain.quality): a worker scores at most this many of a
# project's judged tasks, the most recently judged first, after a promotion or rollback and on the beat.
VERDICT_MODEL_AGREEMENT_MAX_TASKS = int(os.environ.get("VERDICT_MODEL_AGREEMENT_MAX_TASKS", "5000"))
VERDICT_DIFF_MAX_WORDS = int(os.environ.get("VERDICT_DIFF_MAX_WORDS", "5000"))

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
        # Workers look for new messages this often (kombu's default is 1 s): a best-of-N request waits for it.
        "polling_interval": float(os.environ.get("VERDICT_FILE_BROKER_POLL_SECONDS", "0.05")),
    }
    CELERY_RESULT_BACKEND = CELERY_RESULT_BACKEND or f"file://{_celery_dir / 'results'}"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"rewardtrain.tasks.training_run_*": {"queue": "training"},  # and queue= on the task
                      "rewardtrain.tasks.scores_for_version": {"queue": "scoring"},
                      "rewardtrain.tasks.scoring_job_execute": {"queue": "scoring_batch"}}
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
    "acquisition-rounds": {"task": "rewardtrain.tasks.acquisition_rounds_schedule", "schedule": timedelta(hours=1)},
    "fail-stale-acquisition-rounds": {"task": "rewardtrain.tasks.acquisition_rounds_fail_stale",
                                      "schedule": timedelta(minutes=10)},
    "fail-stale-import-jobs": {"task": "annotation.tasks.import_jobs_fail_stale", "schedule": timedelta(minutes=5)},
    "resend-stale-webhook-deliveries": {"task": "annotation.tasks.webhook_deliveries_resend_stale",
                                        "schedule": timedelta(minutes=5)},
    "fail-stale-scoring-jobs": {"task": "rewardtrain.tasks.scoring_jobs_fail_stale",
                                "schedule": timedelta(minutes=10)},
    "monitoring-alerts": {"task": "rewardtrain.tasks.alerts_evaluate", "schedule": timedelta(minutes=5)},
    "quality-refresh": {"task": "annotation.tasks.quality_refresh_due",
                        "schedule": timedelta(seconds=VERDICT_QUALITY_REFRESH_SECONDS)},
    "model-agreement": {"task": "rewardtrain.tasks.model_agreements_refresh_due", "schedule": timedelta(minutes=15)},
}
# Webhooks (annotation/services/webhooks.py): attempts, back-off base · 2^(attempt-1) capped at MAX, the
# receiver's timeout, and whether targets may resolve to loopback/private addresses (SSRF; off in production).
VERDICT_WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("VERDICT_WEBHOOK_MAX_ATTEMPTS", "6"))
VERDICT_WEBHOOK_BACKOFF_SECONDS = float(os.environ.get("VERDICT_WEBHOOK_BACKOFF_SECONDS", "10"))
VERDICT_WEBHOOK_BACKOFF_MAX_SECONDS = float(os.environ.get("VERDICT_WEBHOOK_BACKOFF_MAX_SECONDS", "3600"))
VERDICT_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("VERDICT_WEBHOOK_TIMEOUT_SECONDS", "10"))
VERDICT_WEBHOOK_ALLOW_PRIVATE = env_bool("VERDICT_WEBHOOK_ALLOW_PRIVATE", False)
# PII (annotation/pii): the regions national phone numbers (without +country code) are read in, comma
# separated (ISO 3166 codes). VERDICT_PII_PHONE_REGION (one region) is still read when the list is unset.
VERDICT_PII_PHONE_REGIONS = tuple(r.strip().upper() for r in os.environ.get(
    "VERDICT_PII_PHONE_REGIONS", os.environ.get("VERDICT_PII_PHONE_REGION", "US,GB,DE,FR,IN,JP,AU,IT,ES,NL,BR,MX,CN")
).split(",") if r.strip())
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
# Active learning (rewardtrain.active): pool tasks per scoring chunk (one Celery task each), labelled
# pairs that seed the D-optimal information matrix and the bootstrap heads of "disagreement", and how
# long a round may go without progress before the beat fails it.
VERDICT_ACQUISITION_CHUNK_TASKS = int(os.environ.get("VERDICT_ACQUISITION_CHUNK_TASKS", "1000"))
# Pool tasks one round scores at most (a seeded uniform sample of larger pools); 0 = the whole pool.
VERDICT_ACQUISITION_MAX_CANDIDATES = int(os.environ.get("VERDICT_ACQUISITION_MAX_CANDIDATES", "20000"))
VERDICT_ACQUISITION_LABELLED_MAX = int(os.environ.get("VERDICT_ACQUISITION_LABELLED_MAX", "512"))
VERDICT_ACQUISITION_STALE_SECONDS = int(os.environ.get("VERDICT_ACQUISITION_STALE_SECONDS", "3600"))

# Scoring (rewardtrain.scoring): the API waits this long for a `scoring` worker's answer (503 after); a
# worker keeps CACHE_MODELS model versions loaded; batch jobs score CHUNK_ROWS responses at a time.
VERDICT_SCORING_TIMEOUT_SECONDS = float(os.environ.get("VERDICT_SCORING_TIMEOUT_SECONDS", "20"))  # < gunicorn's 30 s
VERDICT_SCORING_CACHE_MODELS = int(os.environ.get("VERDICT_SCORING_CACHE_MODELS", "2"))
VERDICT_SCORING_CHUNK_ROWS = int(os.environ.get("VERDICT_SCORING_CHUNK_ROWS", "256"))
# torch threads of a scoring process (0: torch's default, one per core); see BENCHMARKS.md.
VERDICT_SCORING_TORCH_THREADS = int(os.environ.get("VERDICT_SCORING_TORCH_THREADS", "0"))
# bf16 where the hardware runs it natively (auto) or never (off); padded tokens per forward pass (0: 1024 on
# a CPU, 16384 on a GPU). See rewardtrain/scoring/cache.py.
VERDICT_SCORING_BF16 = os.environ.get("VERDICT_SCORING_BF16", "auto")
VERDICT_SCORING_BATCH_TOKENS = int(os.environ.get("VERDICT_SCORING_BATCH_TOKENS", "0"))
# Score through torch.compile (inductor; minutes of compiling on a model's first call in a process, eager
# fallback on failure). Off: on the 2-core CPU it measured no faster than eager batches (BENCHMARKS.md).
VERDICT_SCORING_COMPILE = env_bool("VERDICT_SCORING_COMPILE", False)
# Every best-of-N answer is added to per-model, per-day statistics (ScoreDaily) after it is sent; a scoring
# process writes them at most every FLUSH_SECONDS.
VERDICT_SCORE_STATS = env_bool("VERDICT_SCORE_STATS", True)
VERDICT_SCORE_STATS_FLUSH_SECONDS = float(os.environ.get("VERDICT_SCORE_STATS_FLUSH_SECONDS", "1"))
# A batch scoring job still running this long after it started has lost its worker (beat marks it failed).
VERDICT_SCORING_JOB_STALE_SECONDS = int(os.environ.get("VERDICT_SCORING_JOB_STALE_SECONDS", str(6 * 3600)))
# A snapshot job still running this long after it started has lost its worker (a cut has no heartbeat).
VERDICT_SNAPSHOT_JOB_STALE_SECONDS = int(os.environ.get("VERDICT_SNAPSHOT_JOB_STALE_SECONDS", str(6 * 3600)))
# Monitoring (rewardtrain/monitoring): alert thresholds, shown on the monitoring page. mean_drop fires when today's
# mean reward of the active model is more than K standard errors below its previous BASELINE_DAYS' pooled mean;
# length_correlation when today's reward–length correlation is above LENGTH_CORRELATION; both need MIN_SCORES
# scores today. canary_shift when a new version's canary rewards differ from the active model's by KS above
# CANARY_KS or a mean shift beyond CANARY_MEAN_SHIFT_SIGMA σ. A canary set holds at most CANARY_MAX_PROMPTS prompts.
VERDICT_ALERT_MEAN_DROP_K = float(os.environ.get("VERDICT_ALERT_MEAN_DROP_K", "4"))
VERDICT_ALERT_MIN_SCORES = int(os.environ.get("VERDICT_ALERT_MIN_SCORES", "50"))
VERDICT_ALERT_BASELINE_DAYS = int(os.environ.get("VERDICT_ALERT_BASELINE_DAYS", "28"))
VERDICT_ALERT_LENGTH_CORRELATION = float(os.environ.get("VERDICT_ALERT_LENGTH_CORRELATION", "0.5"))
VERDICT_ALERT_CANARY_KS = float(os.environ.get("VERDICT_ALERT_CANARY_KS", "0.3"))
VERDICT_ALERT_CANARY_MEAN_SHIFT_SIGMA = float(os.environ.get("VERDICT_ALERT_CANARY_MEAN_SHIFT_SIGMA", "1"))
VERDICT_CANARY_MAX_PROMPTS = int(os.environ.get("VERDICT_CANARY_MAX_PROMPTS", "1000"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotation.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["annotation.api.common.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": os.environ.get("API_THROTTLE_USER", "6000/min"),
                               "token": os.environ.get("API_THROTTLE_TOKEN", "30/min")},
    "EXCEPTION_HANDLER": "annotation.api.common.exception_handler",
    "NUM_PROXIES": VERDICT_TRUSTED_PROXIES,
}
# API tokens expire this many days after they were created (0: never); a password change revokes them.
VERDICT_TOKEN_TTL_DAYS = float(os.environ.get("VERDICT_TOKEN_TTL_DAYS", "0"))
SPECTACULAR_SETTINGS = {
    "TITLE": "Verdict API",
    "DESCRIPTION": "Human preference annotation and reward-model training.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "MembershipRoleEnum": "annotation.models.Membership.Role",
        "TaskStatusEnum": "annotation.models.Task.Status",
        "AssignmentStatusEnum": "annotation.models.Assignment.Status",
        "TrainingRunStatusEnum": "rewardtrain.models.TrainingRun.Status",
        "SnapshotJobStatusEnum": "rewardtrain.models.SnapshotJob.Status",
        "ModelVersionStatusEnum": "rewardtrain.models.ModelVersion.Status",
        "AcquisitionRoundStatusEnum": "rewardtrain.models.AcquisitionRound.Status",
        "TrainingRunTriggerEnum": "rewardtrain.models.TrainingRun.Trigger",
        "AcquisitionRoundTriggerEnum": "rewardtrain.models.AcquisitionRound.Trigger",
        "AcquisitionStrategyEnum": "rewardtrain.ml.acquisition.STRATEGIES",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},  # failures and lockouts; not every successful login
}

# Content-Security-Policy (django-csp): scripts, styles, fonts and fetches only from this origin; no
# inline script or style anywhere (htmx's injected indicator style is off, Swagger UI uses the split
# view); images also as data: URLs (Swagger UI); never framed.
CONTENT_SECURITY_POLICY = {"DIRECTIVES": {
    "default-src": [SELF], "script-src": [SELF], "style-src": [SELF], "img-src": [SELF, "data:"],
    "font-src": [SELF], "connect-src": [SELF], "object-src": [NONE], "base-uri": [NONE],
    "frame-ancestors": [NONE], "form-action": [SELF],
}}

# HTTPS. Behind a TLS-terminating proxy, X-Forwarded-Proto is believed only when VERDICT_TRUSTED_PROXIES
# says a proxy sets it. SECURE_SSL_REDIRECT=1 redirects plain HTTP and turns on HSTS (SECURE_HSTS_SECONDS,
# one year unless set; start small the first time, browsers remember it).
if VERDICT_TRUSTED_PROXIES > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if SECURE_SSL_REDIRECT else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
