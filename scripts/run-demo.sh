#!/usr/bin/env bash
# `make run`: start the fake sources, prepare the demo database, then serve the dashboard.
# The fakes stop when the dashboard stops (Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
UISP_PORT=${DEMO_UISP_PORT:-8901}
UISP_CLIENTS=${DEMO_UISP_CLIENTS:-2000}

BILLING_DEMO_DB=instance/billing_demo.db

export FLASK_APP=wsgi
export BILLING_DB_URL=${BILLING_DB_URL:-sqlite:///$PWD/$BILLING_DEMO_DB}
export UISP_APP_KEY=${UISP_APP_KEY:-demo-uisp-key}
export UISP_BASE_URL=${UISP_BASE_URL:-http://127.0.0.1:$UISP_PORT/crm/api/v1.0}

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM

mkdir -p instance
# The fake UISP prints "listening on …" once it serves; wait for that line before going on.
coproc UISP { exec "$BIN/python" -m app.fakes.uisp --host 127.0.0.1 --port "$UISP_PORT" \
  --clients "$UISP_CLIENTS" --app-key "$UISP_APP_KEY" 2>instance/fake-uisp.log; }
pids+=("$UISP_PID")
read -r -t 60 line <&"${UISP[0]}" || { echo "fake UISP did not start; see instance/fake-uisp.log" >&2; exit 1; }
echo "fake UISP: $line ($UISP_CLIENTS clients)"

# The fake CC&B is seeded for "this month"; seed again on another day (~10 s for 20,000 CPCs).
if [ ! -f "$BILLING_DEMO_DB" ] || [ "$(date -r "$BILLING_DEMO_DB" +%F)" != "$(date +%F)" ]; then
  "$BIN/python" -m app.fakes.billing --url "sqlite:///$PWD/$BILLING_DEMO_DB" --crps 200 --cpcs 20000
fi

SYNCDECK_NO_ENGINE=1 "$BIN/flask" db upgrade
SYNCDECK_NO_ENGINE=1 "$BIN/flask" demo setup
"$BIN/gunicorn" --bind "$HOST:$PORT" --workers 1 --threads 8 --access-logfile - wsgi:app &
pids+=("$!")
wait "${pids[-1]}"
