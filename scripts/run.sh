#!/usr/bin/env bash
# Sets up and runs Verdict on embedded defaults: SQLite, a file-system Celery broker, demo data,
# three workers (default queue with the beat scheduler; training and batch scoring; best-of-N
# scoring) and the development web server.
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
# Three workers, so that no long job holds up another kind:
#  - default (with the beat scheduler): imports, snapshot jobs, webhooks, lease expiry — short jobs;
#  - training and scoring_batch: the long model jobs, one at a time, so at most one of them holds a
#    model in memory and a training run never makes an import or a snapshot wait;
#  - scoring: best-of-N requests, with the active model kept loaded; one torch thread: on a
#    laptop-sized host that also runs the web server and the other workers, more threads spin
#    against them (BENCHMARKS.md).
# All three share the SQLite file, which waits for locks (config/settings/base.py).
.venv/bin/celery -A config worker --beat --pool solo -Q default -n "default@%h" --loglevel INFO \
  --schedule "$VAR/celerybeat-schedule" >"$VAR/worker.log" 2>&1 &
worker=$!
.venv/bin/celery -A config worker --pool solo -Q training,scoring_batch -n "training@%h" --loglevel INFO \
  >"$VAR/training-worker.log" 2>&1 &
training_worker=$!
VERDICT_SCORING_TORCH_THREADS=${VERDICT_SCORING_TORCH_THREADS:-1} \
  .venv/bin/celery -A config worker --pool solo -Q scoring -n "scoring@%h" --loglevel INFO \
  >"$VAR/scoring-worker.log" 2>&1 &
scoring_worker=$!
server=
trap 'kill $worker $training_worker $scoring_worker $server 2>/dev/null || true' EXIT INT TERM
echo "Workers started: default queue and beat (pid $worker, $VAR/worker.log), training and batch scoring" \
  "(pid $training_worker, $VAR/training-worker.log), best-of-N scoring (pid $scoring_worker, $VAR/scoring-worker.log)."
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
