"""WSGI entry point: the app plus this process's scheduler and executor (once per process)."""
import os

import click

from app import create_app
from app.runs.process import start_engine

app = create_app()


def _engine_wanted():
    """A WSGI server (gunicorn) or `flask run` wants the engine; other `flask` commands do not."""
    if os.environ.get("SYNCDECK_NO_ENGINE") == "1":
        return False
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true":  # set by the flask CLI for every command
        return True
    command = click.get_current_context(silent=True)
    if command is None or command.info_name != "run":
        return False  # `flask worker` starts its own; `db upgrade`, `run-job` ... need none
    # Under `flask run --debug` only the reloader's child serves requests.
    return os.environ.get("FLASK_DEBUG") not in ("1", "true") or os.environ.get("WERKZEUG_RUN_MAIN") == "true"


if _engine_wanted():
    start_engine(app)
