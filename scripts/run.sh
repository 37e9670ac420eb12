#!/usr/bin/env bash
# Sets up and runs Verdict on embedded defaults: SQLite, a file-system Celery broker, demo data,
# a worker (with the beat scheduler), a scoring worker and the development web server.
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
.venv/bin/celery -A config worker --beat --pool solo -Q default,training,scoring_batch --loglevel INFO \
  --schedule "$VAR/celerybeat-schedule" >"$VAR/worker.log" 2>&1 &
worker=$!
# Best-of-N requests get their own worker, which keeps the active model loaded: they must not wait
# behind a training run or a batch job on the worker above. One torch thread: on a laptop-sized host
# that also runs the web server and the other worker, more threads spin against them (BENCHMARKS.md).
VERDICT_SCORING_TORCH_THREADS=${VERDICT_SCORING_TORCH_THREADS:-1} \
  .venv/bin/celery -A config worker --pool solo -Q scoring -n "scoring@%h" --loglevel INFO \
  >"$VAR/scoring-worker.log" 2>&1 &
scoring_worker=$!
server=
trap 'kill $worker $scoring_worker $server 2>/dev/null || true' EXIT INT TERM
echo "Workers started (pids $worker and $scoring_worker for scoring; logs $VAR/worker.log, $VAR/scoring-worker.log)."
.venv/bin/python manage.py runserver "$HOST:$PORT" &
server=$!
# Say where Verdict is only once the server answers, not while it is still starting.
for _ in $(seq 120); do
  if ! kill -0 $server 2>/dev/null; then echo "The web server did not start (see above)." >&2; exit 1; fi
  if .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen('http://$HOST:$PORT/accounts/login/', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.5
done
echo
echo "  Verdict is running at http://$HOST:$PORT/   (admin: http://$HOST:$PORT/admin/, API docs: /api/docs/)"
echo
wait $server
