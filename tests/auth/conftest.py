"""Helpers for the auth tests: users with chosen permissions, URLs for every rule, database snapshots."""
import re
from functools import partial

import pytest
from werkzeug.security import generate_password_hash

from app.auth.models import Role
from app.extensions import db
from app.runs.schedules import save
from app.runs.service import enqueue
from tests.conftest import AuthActions, create_user

PASSWORD = "correct-horse-9"
# Endpoints reachable without a session (app.auth.PUBLIC_ENDPOINTS).
PUBLIC = {"auth.login", "static", "ops.healthz", "ops.metrics"}
_ARGUMENT = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    """Hash with a low work factor: same code path and checks, a fraction of scrypt's 0.3 s per login."""
    monkeypatch.setattr("app.auth.models.generate_password_hash",
                        partial(generate_password_hash, method="pbkdf2:sha256:1000"))


def build_url(rule, values=None):
    """Fill a rule's arguments: a value from values by name, else 1 for int converters and "x" for the rest."""
    values = values or {}

    def fill(match):
        if match["name"] in values:
            return str(values[match["name"]])
        return "1" if match["converter"] == "int" else "x"
    return _ARGUMENT.sub(fill, rule.rule)


def rules_with(app, method):
    """Every rule answering method, except the public ones, sorted for stable test ids."""
    return sorted((r for r in app.url_map.iter_rules() if method in r.methods and r.endpoint not in PUBLIC),
                  key=lambda r: r.rule)


def snapshot(app):
    """Every row of every table, to prove a request changed nothing at all."""
    with app.app_context():
        return {table.name: sorted(repr(tuple(row)) for row in db.session.execute(table.select()))
                for table in db.metadata.sorted_tables}


def make_role(name, permissions=""):
    role = Role(name=name, description=f"test role {name}", permissions=permissions)
    db.session.add(role)
    db.session.commit()
    return role


@pytest.fixture
def login_as(app):
    """Create a user with the given roles (or a fresh role with exactly the given permissions) and sign them in."""
    def login(username, roles=(), permissions=None, must_change=False):
        with app.app_context():
            if permissions is not None:
                make_role(f"role_{username}", " ".join(permissions))
                roles = (*roles, f"role_{username}")
            create_user(username, PASSWORD, roles=roles, must_change=must_change)
        actions = AuthActions(app.test_client())
        response = actions.login(username, PASSWORD)
        assert response.status_code == 302, response.get_data(as_text=True)
        return actions
    return login


@pytest.fixture
def viewer(login_as):
    return login_as("vera", roles=("viewer",))


@pytest.fixture
def targets(app):
    """Real rows for every kind of URL argument, so a request that slipped through would really change something."""
    with app.app_context():
        run, _ = enqueue("tests.noop", {}, trigger="manual", requested_by="alice")
        schedule = save(None, job_id="tests.noop", cron="0 2 * * *")
        bob = create_user("bob", PASSWORD, roles=("viewer",))
        db.session.commit()
        operator = db.session.scalar(db.select(Role).where(Role.name == "operator"))
        return {"run_id": run.id, "schedule_id": schedule.id, "user_id": bob.id, "role_id": operator.id,
                "job_id": "tests.noop"}
