"""WSGI entry point: the app plus this process's scheduler and executor (once per process)."""
import os

from app import create_app
from app.runs.process import start_engine

app = create_app()


def _is_reloader_parent():
    # `flask run --debug` imports this module in a watcher process too; only its child serves.
    return os.environ.get("FLASK_RUN_FROM_CLI") == "true" and os.environ.get("FLASK_DEBUG") in ("1", "true") \
        and os.environ.get("WERKZEUG_RUN_MAIN") != "true"


if os.environ.get("SYNCDECK_NO_ENGINE") != "1" and not _is_reloader_parent():
    start_engine(app)
