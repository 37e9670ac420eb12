#!/usr/bin/env bash
# Runs the whole test suite against real PostgreSQL and Redis (never a silent fallback).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/verdict}
export CELERY_BROKER_URL=${CELERY_BROKER_URL:-redis://127.0.0.1:6379/14}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
.venv/bin/python - <<'PY'
import os, sys
import psycopg, redis
db, broker = os.environ["DATABASE_URL"], os.environ["CELERY_BROKER_URL"]
try:
    psycopg.connect(db.rsplit("/", 1)[0] + "/postgres", connect_timeout=5).close()
except Exception as exc:
    sys.exit(f"PostgreSQL is not reachable at {db}: {exc}\nStart it, or set DATABASE_URL.")
try:
    redis.Redis.from_url(broker, socket_connect_timeout=5).ping()
except Exception as exc:
    sys.exit(f"Redis is not reachable at {broker}: {exc}\nStart it, or set CELERY_BROKER_URL.")
PY
exec .venv/bin/pytest "$@"
