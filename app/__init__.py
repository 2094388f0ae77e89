"""Syncdeck: the operator dashboard for scheduled syncs."""
import importlib

from flask import Flask

from . import auth, connectors, dashboard, demo, errors, runs
from . import db as db_helpers
from .auth.permissions import check_views
from .extensions import csrf, db, login_manager, migrate
from .logging_setup import configure as configure_logging


def create_app(config=None):
    """Build the app: configuration, extensions, blueprints, CLI, connectors. Nothing else."""
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_object(config or "config.Config")
    _configure_logging(app)

    db_helpers.tune_engine_options(app)
    db.init_app(app)
    db_helpers.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"), render_as_batch=True,
                     compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)

    errors.init_app(app)
    auth.init_app(app)
    runs.init_app(app)
    dashboard.init_app(app)
    connectors.init_app(app)
    demo.init_app(app)
    for module in app.config.get("EXTRA_JOB_MODULES", []):
        importlib.import_module(module)
    check_views(app)
    return app


def _configure_logging(app):
    if not app.testing:  # pytest owns logging in tests
        configure_logging()
