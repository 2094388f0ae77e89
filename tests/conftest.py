"""Fixtures: app on SQLite (or PostgreSQL via TEST_DATABASE_URL), client, auth, executor."""
import os
import re
import tempfile
import time

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from app import create_app
from app.auth.models import Role, User
from app.auth.roles import ensure_default_roles
from app.db import partition_tables
from app.extensions import db
from tests.jobs import test_metadata

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
_SQLITE_DIR = tempfile.mkdtemp(prefix="syncdeck-tests-")


def database_url():
    return PG_URL or f"sqlite:///{_SQLITE_DIR}/test.db"


def is_postgres():
    return PG_URL.startswith("postgresql")


requires_postgres = pytest.mark.skipif(not is_postgres(), reason="needs TEST_DATABASE_URL=postgresql://…")


def pytest_sessionstart(session):
    if PG_URL:
        try:
            create_engine(PG_URL).connect().close()
        except Exception as exc:  # CI must fail here, never quietly skip the PostgreSQL tests
            raise pytest.UsageError(f"TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}")
    _reset_schema()


def _reset_schema():
    """Drop everything and build the schema through the Alembic migrations, once per session."""
    engine = create_engine(database_url())
    with engine.begin() as conn:
        if is_postgres():
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    if not is_postgres():
        path = database_url().removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    app = create_app(_config_for_tests())
    with app.app_context():
        upgrade(directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
        test_metadata.create_all(db.engine)
        db.engine.dispose()


def clean_tables():
    """Empty every table with real commits (tests exercise real transactions)."""
    tables = list(reversed(db.metadata.sorted_tables)) + list(test_metadata.sorted_tables)
    with db.engine.begin() as conn:
        if is_postgres():
            for partition in partition_tables(conn):  # made at run time (a bill-stop batch each)
                conn.execute(text(f'DROP TABLE "{partition}"'))
            names = ", ".join(t.name for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())
    ensure_default_roles()
    # Tests log in a lot; refresh-on-login is switched on only by the tests about it.
    from app import settings
    settings._CACHE.clear()
    settings.put("refresh_on_login_minutes", 0)
    db.session.commit()


@pytest.fixture
def app():
    app = create_app(_config_for_tests())
    with app.app_context():
        clean_tables()
    yield app
    executor = app.extensions.get("syncdeck_executor")
    if executor:
        executor.stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _config_for_tests():
    from config import TestConfig

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url()
    return Config


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def put_settings(app, **values):
    """Save settings as the Settings page would (committed; this process's cache forgotten)."""
    from app import settings
    with app.app_context():
        for key, value in values.items():
            settings.put(key, value)
        db.session.commit()
        settings._CACHE.clear()


def create_user(username="alice", password="correct-horse-9", roles=("admin",), must_change=False):
    ensure_default_roles()
    user = User(username=username, must_change_password=must_change,
                roles=list(db.session.scalars(db.select(Role).where(Role.name.in_(roles)))))
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


class AuthActions:
    """Log in through the real form and post with the session's CSRF token, as a browser does."""

    def __init__(self, client):
        self.client = client

    def csrf(self, path="/login"):
        html = self.client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf-token" content="([^"]+)"', html) or \
            re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, username="alice", password="correct-horse-9", follow=False):
        token = self.csrf("/login")
        return self.client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                                follow_redirects=follow)

    def logout(self):
        return self.post("/logout")

    def post(self, url, data=None, json=None, **kwargs):
        token = self.csrf("/account/password")
        if json is not None:
            return self.client.post(url, json=json, headers={"X-CSRFToken": token}, **kwargs)
        return self.client.post(url, data={**(data or {}), "csrf_token": token}, **kwargs)


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def admin(app, auth):
    """A logged-in admin."""
    with app.app_context():
        create_user("alice", roles=("admin",))
    response = auth.login("alice")
    assert response.status_code == 302, response.get_data(as_text=True)
    return auth


@pytest.fixture
def executor(app):
    """This test's own in-process executor (no scheduler)."""
    from app.runs.executor import Executor
    from app.runs.hooks import after_run_finished
    ex = Executor(app)
    ex.on_finish.append(after_run_finished)
    app.extensions["syncdeck_executor"] = ex
    ex.start()
    yield ex
    ex.stop()
    app.extensions.pop("syncdeck_executor", None)


def wait_for(predicate, timeout=10.0, interval=0.02, message="condition"):
    """Poll predicate until it returns a truthy value; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture
def core_jobs_only(monkeypatch):
    """Hide connectors' jobs: tests of the core count exactly the test jobs they declare."""
    from app.runs.registry import _REGISTRY
    for job_id in [j for j in _REGISTRY if not j.startswith(("system.", "tests."))]:
        monkeypatch.delitem(_REGISTRY, job_id)
