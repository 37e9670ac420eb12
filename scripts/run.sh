#!/usr/bin/env bash
# Sets up and runs Verdict on embedded defaults: SQLite, a file-system Celery broker, demo data,
# one worker (with the beat scheduler) and the development web server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export DEBUG=${DEBUG:-1} HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
VAR=${VERDICT_VAR_DIR:-var}
mkdir -p "$VAR"
.venv/bin/python manage.py migrate --no-input -v 0
.venv/bin/python manage.py seed_demo
.venv/bin/celery -A config worker --beat --pool solo -Q default,training --loglevel INFO \
  --schedule "$VAR/celerybeat-schedule" >"$VAR/worker.log" 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT INT TERM
echo "Worker started (pid $worker, log $VAR/worker.log)."
echo
echo "  Verdict is running at http://$HOST:$PORT/   (admin: http://$HOST:$PORT/admin/, API docs: /api/docs/)"
echo
.venv/bin/python manage.py runserver "$HOST:$PORT"
