#!/usr/bin/env bash
# `make run`: start every enabled connector's fake source, prepare the demo database, serve the dashboard.
# The fakes stop when the dashboard stops (Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
export FLASK_APP=wsgi

mkdir -p instance
# One key for every process of the demo, kept across restarts: `flask demo setup` encrypts the demo
# companies' credentials with it and gunicorn must decrypt them (an unset SECRET_KEY is random per process).
[ -s instance/secret_key ] || "$BIN/python" -c "import secrets; print(secrets.token_hex(32))" > instance/secret_key
export SECRET_KEY="${SECRET_KEY:-$(cat instance/secret_key)}"
# The launcher prepares and starts each connector's fake (app/fakes/launch.py), writes the config that
# points the app at them, then prints "ready"; wait for that line before going on.
coproc FAKES { exec "$BIN/python" -m app.fakes.launch --instance instance --env-file instance/demo.env; }
trap 'kill "$FAKES_PID" ${WEB_PID:-} 2>/dev/null || true' EXIT INT TERM
read -r -t 300 line <&"${FAKES[0]}" && [ "$line" = ready ] || { echo "the fake sources did not start" >&2; exit 1; }
# shellcheck disable=SC1091
source instance/demo.env

SYNCDECK_NO_ENGINE=1 "$BIN/flask" db upgrade
SYNCDECK_NO_ENGINE=1 "$BIN/flask" demo setup
"$BIN/gunicorn" --bind "$HOST:$PORT" --workers 1 --threads 8 --access-logfile - wsgi:app &
WEB_PID=$!
wait "$WEB_PID"
