"""The connections shape: per-company credentials edited in the UI, encrypted at rest, rotated under a row lock."""
import logging
import threading
import time

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select, text

from app.auth.models import Activity
from app.connectors.base import Connector
from app.connectors.base.connections import (Connection, ConnectionSpec, Field, SecretsError, active_connections,
                                             connection_settings, get_connection, locked_connection, read_secrets,
                                             reencrypt_all, write_secrets)
from app.extensions import db
from tests.conftest import AuthActions, create_user

API_KEY = "sk-live-SUPERSECRET-4f9a"
REFRESH = "rt-ROTATING-77c1"
SPEC = ConnectionSpec(
    fields=(Field("api_key", "API key", secret=True, required=True),
            Field("refresh_token", "Refresh token", secret=True),
            Field("base_url", "Base URL", type="url", required=True)),
    settings=(Field("page_size", "Page size", type="int", default=100),
              Field("region", "Region", choices=("uk", "ie"), default="uk")),
    multiple=True, key_label="Company key")
DEMO = Connector(id="demo", title="Demo", connection=SPEC)
FORM = {"key": "acme", "display_name": "Acme Ltd", "api_key": API_KEY, "refresh_token": REFRESH,
        "base_url": "https://api.example.test", "page_size": "50", "region": "ie"}


@pytest.fixture
def demo(app):
    """The app with the demo connector (declaring a ConnectionSpec) enabled."""
    app.extensions["syncdeck_connectors"].append(DEMO)
    yield DEMO
    app.extensions["syncdeck_connectors"].remove(DEMO)


def create(admin, **changes):
    return admin.post("/connections/demo/new", data={**FORM, **changes})


def stored(app, key="acme"):
    """(connection detached, its decrypted secrets), read fresh from the database."""
    with app.app_context():
        conn = get_connection("demo", key)
        secrets = read_secrets(conn)
        db.session.expunge(conn)
        return conn, secrets


def raw_secrets(app):
    with app.app_context():
        return db.session.execute(text("SELECT secrets FROM connections")).scalars().all()


def activities(app):
    with app.app_context():
        return [(a.action, a.target, a.detail) for a in db.session.scalars(select(Activity).where(
            Activity.action.like("connection_%")).order_by(Activity.id))]


def counts(app):
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Connection)),
                db.session.scalar(select(func.count()).select_from(Activity).where(
                    Activity.action.like("connection_%"))))


def page(admin, url):
    response = admin.client.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_create_through_the_form_stores_the_secrets_encrypted(app, demo, admin):
    response = create(admin)
    assert response.status_code == 302, response.get_data(as_text=True)
    conn, secrets = stored(app)
    assert secrets == {"api_key": API_KEY, "refresh_token": REFRESH}
    assert conn.settings == {"base_url": "https://api.example.test", "page_size": 50, "region": "ie"}
    assert (conn.display_name, conn.active, conn.version, conn.updated_by) == ("Acme Ltd", True, 1, "alice")
    [raw] = raw_secrets(app)
    assert API_KEY not in raw and REFRESH not in raw and "api_key" not in raw  # not even the field names
    assert API_KEY not in repr(conn)
    [(action, target, detail)] = activities(app)
    assert (action, target) == ("connection_created", "demo/acme")
    assert "api_key" in detail and API_KEY not in detail and REFRESH not in detail


def test_pages_say_set_or_not_set_and_never_show_a_secret(app, demo, admin):
    create(admin, refresh_token="")
    for url in ("/connections/", "/connections/demo/acme/edit", "/connections/?q=acme"):
        html = page(admin, url)
        assert API_KEY not in html and "SUPERSECRET" not in html
    html = page(admin, "/connections/demo/acme/edit")
    assert 'data-secret-state="set"' in html and 'data-secret-state="not set"' in html
    assert "https://api.example.test" in html  # plain values are shown
    assert 'name="csrf_token"' in html
    assert 'href="/connections/"' in page(admin, "/connections/")  # the navbar links here once a connector declares one


def test_a_blank_secret_keeps_the_stored_one_and_clear_removes_it(app, demo, admin):
    create(admin)
    form = {**FORM, "api_key": "", "refresh_token": "", "page_size": "75"}
    assert admin.post("/connections/demo/acme/edit", data=form).status_code == 302
    conn, secrets = stored(app)
    assert secrets == {"api_key": API_KEY, "refresh_token": REFRESH}
    assert conn.settings["page_size"] == 75 and conn.version == 2
    form["refresh_token__clear"] = "1"
    assert admin.post("/connections/demo/acme/edit", data=form).status_code == 302
    conn, secrets = stored(app)
    assert secrets == {"api_key": API_KEY} and conn.version == 3
    assert 'data-secret-state="not set"' in page(admin, "/connections/demo/acme/edit")
    details = [detail for _, _, detail in activities(app)]
    assert details[1] == "page_size: 50 → 75" and details[2] == "refresh_token: cleared"
    assert all(API_KEY not in d and REFRESH not in d for d in details)


def test_a_new_secret_replaces_the_old_and_is_named_but_not_shown(app, demo, admin):
    create(admin)
    assert admin.post("/connections/demo/acme/edit", data={**FORM, "api_key": "sk-NEW-VALUE"}).status_code == 302
    assert stored(app)[1]["api_key"] == "sk-NEW-VALUE"
    assert activities(app)[-1] == ("connection_updated", "demo/acme", "api_key: replaced")
    assert "sk-NEW-VALUE" not in page(admin, "/connections/demo/acme/edit")


def test_saving_without_changes_writes_nothing(app, demo, admin):
    create(admin)
    assert admin.post("/connections/demo/acme/edit", data={**FORM, "api_key": ""}).status_code == 302
    assert stored(app)[0].version == 1 and len(activities(app)) == 1


@pytest.mark.parametrize("changes, message", [
    ({"api_key": ""}, "API key is required."),
    ({"base_url": "ftp://files.example.test"}, "Base URL must be an http:// or https:// URL."),
    ({"page_size": "ten"}, "Page size must be a whole number"),
    ({"region": "fr"}, "Region must be one of uk, ie."),
    ({"key": "Acme Ltd!"}, "Company key must be 1–64 lower-case letters"),
])
def test_bad_input_is_a_400_with_the_form_and_nothing_written(app, demo, admin, changes, message):
    response = create(admin, **changes)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and message in html and 'id="connection-form"' in html
    assert API_KEY not in html  # a typed secret is not echoed back either
    assert counts(app) == (0, 0)


def test_a_duplicate_key_and_a_bad_edit_are_refused_without_writing(app, demo, admin):
    create(admin)
    response = create(admin, display_name="Other")
    assert response.status_code == 400 and "already exists" in response.get_data(as_text=True)
    response = admin.post("/connections/demo/acme/edit", data={**FORM, "api_key": "sk-UNSAVED", "page_size": "x"})
    assert response.status_code == 400 and "sk-UNSAVED" not in response.get_data(as_text=True)
    response = admin.post("/connections/demo/acme/edit", data={**FORM, "api_key": "", "api_key__clear": "1"})
    assert response.status_code == 400 and "cannot be cleared" in response.get_data(as_text=True)
    conn, secrets = stored(app)
    assert conn.version == 1 and secrets["api_key"] == API_KEY and counts(app) == (1, 1)


def test_a_viewer_sees_the_pages_but_gets_403_on_every_change(app, demo, admin):
    create(admin)
    with app.app_context():
        create_user("vic", roles=("viewer",))
    vic = AuthActions(app.test_client())
    vic.login("vic")
    assert API_KEY not in page(vic, "/connections/demo/acme/edit")
    for url, data in (("/connections/demo/new", {**FORM, "key": "beta"}),
                      ("/connections/demo/acme/edit", {**FORM, "api_key": "sk-VIC"}),
                      ("/connections/demo/acme/toggle", {})):
        response = vic.post(url, data=data)
        assert response.status_code == 403, url
        assert "edit_connections" in response.get_data(as_text=True)
    conn, secrets = stored(app)
    assert conn.active and conn.version == 1 and secrets["api_key"] == API_KEY and counts(app) == (1, 1)


def test_toggle_and_the_list_filters(app, demo, admin):
    create(admin)
    create(admin, key="beta", display_name="Beta Stores")
    assert admin.post("/connections/demo/beta/toggle").status_code == 302
    assert activities(app)[-1] == ("connection_toggled", "demo/beta", "deactivated")
    with app.app_context():
        assert [c.key for c in active_connections("demo")] == ["acme"]
    inactive = page(admin, "/connections/?active=inactive")
    assert 'data-key="beta"' in inactive and 'data-key="acme"' not in inactive
    found = page(admin, "/connections/?q=STORES")
    assert 'data-key="beta"' in found and 'data-key="acme"' not in found
    assert admin.post("/connections/demo/beta/toggle").status_code == 302
    assert stored(app, "beta")[0].active and stored(app, "beta")[0].version == 3


def test_unknown_connector_or_connection_is_a_404(app, demo, admin):
    assert admin.client.get("/connections/nope/new").status_code == 404
    assert admin.client.get("/connections/demo/ghost/edit").status_code == 404
    assert admin.post("/connections/demo/ghost/toggle").status_code == 404


def test_settings_read_their_defaults(app, demo, admin):
    create(admin, page_size="", region="")
    conn, _ = stored(app)
    with app.app_context():
        assert connection_settings(conn, SPEC) == {"base_url": "https://api.example.test", "page_size": 100,
                                                   "region": "uk"}


def test_no_log_line_carries_a_secret(app, demo, admin, caplog):
    caplog.set_level(logging.DEBUG)
    create(admin)
    admin.post("/connections/demo/acme/edit", data={**FORM, "api_key": "sk-LOGGED?"})
    with app.app_context():
        with locked_connection(stored(app)[0].id) as conn:
            write_secrets(conn, {"refresh_token": "rt-NEXT"}, username="job")
    assert caplog.text and "connection=demo/acme" in caplog.text
    for secret in (API_KEY, REFRESH, "sk-LOGGED?", "rt-NEXT"):
        assert secret not in caplog.text


def test_a_wrong_key_is_a_clear_error_naming_the_connection(app, demo, admin):
    app.config["CONNECTIONS_KEY"] = Fernet.generate_key().decode()
    create(admin)
    app.config["CONNECTIONS_KEY"] = Fernet.generate_key().decode()
    with app.app_context(), pytest.raises(SecretsError, match="demo/acme") as raised:
        read_secrets(get_connection("demo", "acme"))
    assert "CONNECTIONS_KEY" in str(raised.value) and API_KEY not in str(raised.value)
    assert 'id="secrets-unreadable"' in page(admin, "/connections/demo/acme/edit")
    assert "unreadable" in page(admin, "/connections/")
    app.config["CONNECTIONS_KEY"] = "not-a-fernet-key"
    with app.app_context(), pytest.raises(SecretsError, match="key #1 is not a Fernet key"):
        read_secrets(get_connection("demo", "acme"))


def test_keys_rotate_with_multifernet(app, demo, admin):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app.config["CONNECTIONS_KEY"] = old
    create(admin)
    app.config["CONNECTIONS_KEY"] = f"{new}, {old}"  # the new one encrypts, the old one still decrypts
    assert stored(app)[1]["api_key"] == API_KEY
    with app.app_context():
        assert reencrypt_all() == 1
        db.session.commit()
    app.config["CONNECTIONS_KEY"] = new
    assert stored(app)[1]["api_key"] == API_KEY


def test_without_connections_key_the_key_derives_from_secret_key(app, demo, admin):
    app.config["CONNECTIONS_KEY"] = ""
    create(admin)
    assert stored(app)[1]["api_key"] == API_KEY  # derived the same way each time
    app.config["SECRET_KEY"] = "a-different-secret"
    with app.app_context(), pytest.raises(SecretsError, match="SECRET_KEY or CONNECTIONS_KEY changed"):
        read_secrets(get_connection("demo", "acme"))


def rotate(app, connection_id, times, seen):
    """Refresh the token `times` times, as a job would: read it, call the provider (slowly), store the next."""
    with app.app_context():
        for _ in range(times):
            with locked_connection(connection_id) as conn:
                current = int(read_secrets(conn).get("refresh_token", "token 0").split()[-1])
                time.sleep(0.01)  # the provider's round trip: a second runner would overtake here without the lock
                write_secrets(conn, {"refresh_token": f"token {current + 1}"}, username="job")
                seen.append(current)
        db.session.remove()


def test_concurrent_rotations_through_locked_connection_are_never_lost(app, demo, admin):
    """20 rotations across 2 threads (each its own session and connection) end at exactly token 20."""
    create(admin, refresh_token="token 0")
    connection_id = stored(app)[0].id
    seen = []
    workers = [threading.Thread(target=rotate, args=(app, connection_id, 10, seen)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    conn, secrets = stored(app)
    assert secrets == {"api_key": API_KEY, "refresh_token": "token 20"}
    assert sorted(seen) == list(range(20))  # each token refreshed once: the second runner saw the first's
    assert conn.version == 21


def test_locked_connection_rolls_back_on_error(app, demo, admin):
    create(admin)
    connection_id = stored(app)[0].id
    with app.app_context(), pytest.raises(RuntimeError):
        with locked_connection(connection_id) as conn:
            write_secrets(conn, {"refresh_token": "rt-HALF"})
            raise RuntimeError("provider said no")
    assert stored(app)[1]["refresh_token"] == REFRESH and stored(app)[0].version == 1
    with app.app_context(), pytest.raises(LookupError, match="12345"):
        with locked_connection(12345):
            pass


def test_field_declarations_are_checked():
    with pytest.raises(ValueError, match="declared twice"):
        ConnectionSpec(fields=(Field("a", "A"),), settings=(Field("a", "A again"),))
    with pytest.raises(ValueError, match="lower-case identifier"):
        Field("display_name", "Name")
    with pytest.raises(ValueError, match="settings are not secret"):
        ConnectionSpec(settings=(Field("token", "Token", secret=True),))
