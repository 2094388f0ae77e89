"""The connector spine: a connector is its own package plus one line in ENABLED_CONNECTORS."""
import sys
import textwrap
from pathlib import Path

import pytest

import app.connectors as connectors
from app import create_app
from app.connectors import ENABLED_CONNECTORS, load
from app.runs import registry
from app.runs.executor import Executor
from tests.conftest import _config_for_tests, clean_tables, create_user
from tests.runs.helpers import run_job

ROOT = Path(__file__).resolve().parents[2]

THROWAWAY = {
    "__init__.py": '''
        """A connector written in a temp dir: one blueprint, one job, one setting, one permission, one counter."""
        from ..base import Connector, NavItem, SettingSpec
        from ... import settings
        from . import jobs  # noqa: F401
        from .routes import bp

        connector = Connector(
            id="throwaway", title="Throwaway", blueprints=(bp,), nav=(NavItem("Throwaway things", "throwaway.index"),),
            settings=(SettingSpec("throwaway_batch", 7, settings.int_range(1, 99, "Batch size"), "Throwaway batch size",
                                  "How many things per batch."),),
            permissions={"throw_away": "Throw things away"}, activity_actions=("thing_thrown",))
        ''',
    "jobs.py": '''
        from ... import settings
        from ...runs.registry import job

        @job("throwaway.sync", title="Sync throwaway things", connector="throwaway", counters=("thrown",))
        def sync(ctx):
            """Throws the configured number of things away."""
            ctx.count(thrown=settings.get("throwaway_batch"))
            ctx.summary = "Threw things away"
        ''',
    "routes.py": '''
        from flask import Blueprint, render_template_string
        from ...auth.permissions import permission_required

        bp = Blueprint("throwaway", __name__, url_prefix="/throwaway")

        @bp.get("/")
        def index():
            return render_template_string("{% extends 'base.html' %}{% block content %}<p id=things>things</p>{% endblock %}")

        @bp.post("/throw")
        @permission_required("throw_away")
        def throw():
            return "thrown"
        ''',
}


@pytest.fixture
def throwaway_app(tmp_path, monkeypatch):
    """An app with the throwaway package (in a temp dir seen as app/connectors/) enabled by one more name."""
    package = tmp_path / "throwaway"
    package.mkdir()
    for name, source in THROWAWAY.items():
        (package / name).write_text(textwrap.dedent(source))
    monkeypatch.setattr(connectors, "__path__", [*connectors.__path__, str(tmp_path)])
    monkeypatch.setattr(connectors, "ENABLED_CONNECTORS", [*ENABLED_CONNECTORS, "throwaway"])
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # its job leaves with the test
    app = create_app(_config_for_tests())
    with app.app_context():
        clean_tables()
        create_user("alice", roles=("admin",))
        create_user("olga", roles=("operator",))
    executor = Executor(app)
    app.extensions["syncdeck_executor"] = executor
    executor.start()
    yield app
    executor.stop()
    for name in [m for m in sys.modules if m.startswith("app.connectors.throwaway")]:
        del sys.modules[name]


def login(client, username):
    from tests.conftest import AuthActions
    auth = AuthActions(client)
    assert auth.login(username).status_code == 302
    return auth


def test_a_throwaway_connector_appears_in_nav_settings_permissions_and_runs(throwaway_app):
    admin = login(throwaway_app.test_client(), "alice")
    overview = admin.client.get("/").get_data(as_text=True)
    assert 'href="/throwaway/"' in overview and "Throwaway things" in overview
    assert 'id=things' in admin.client.get("/throwaway/").get_data(as_text=True)
    settings_page = admin.client.get("/settings").get_data(as_text=True)
    assert 'name="throwaway_batch"' in settings_page and 'value="7"' in settings_page
    roles = admin.client.get("/roles").get_data(as_text=True)
    assert "throw_away" in roles and "Throw things away" in roles
    assert "thing_thrown" in admin.client.get("/activity").get_data(as_text=True)
    assert admin.post("/throwaway/throw").status_code == 200
    operator = login(throwaway_app.test_client(), "olga")
    assert operator.post("/throwaway/throw").status_code == 403

    run = run_job(throwaway_app, "throwaway.sync")
    assert run.status == "succeeded" and run.counters == {"thrown": 7}
    detail = admin.client.get(f"/runs/{run.id}").get_data(as_text=True)
    assert "thrown" in detail and "Sync throwaway things" in admin.client.get("/jobs").get_data(as_text=True)
    assert admin.client.get(f"/api/runs/{run.id}").get_json()["counters"]["thrown"] == 7


def test_a_view_requiring_an_undeclared_permission_fails_at_start(throwaway_app, tmp_path, monkeypatch):
    routes = tmp_path / "throwaway" / "routes.py"
    routes.write_text(routes.read_text().replace('permission_required("throw_away")', 'permission_required("nope")'))
    for name in [m for m in sys.modules if m.startswith("app.connectors.throwaway")]:
        del sys.modules[name]
    with pytest.raises(ValueError, match="unknown permission 'nope'"):
        create_app(_config_for_tests())


def test_env_example_holds_every_enabled_connectors_block():
    text = (ROOT / ".env.example").read_text()
    for name in ENABLED_CONNECTORS:
        block = load(name).env_example()
        assert block in text, f".env.example lacks {name}'s block; paste:\n{block}"


def test_connector_packages_touch_nothing_outside_themselves():
    """No core module names a connector package: the connectors are reached only through their declaration."""
    core = [p for p in (ROOT / "app").rglob("*.py")
            if "connectors" not in p.parts and "fakes" not in p.parts]
    for path in core:
        text = path.read_text()
        for name in ENABLED_CONNECTORS:
            assert f"connectors.{name}" not in text and f"connectors import {name}" not in text, path
