"""The Users and Roles pages and the `flask users` commands."""
import re
import threading
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from app.auth.models import Activity, Role, User
from app.extensions import db
from tests.auth.conftest import PASSWORD, snapshot
from tests.conftest import AuthActions, create_user, requires_postgres, wait_for


def _user(app, username):
    """The user's state as plain values (active, must change, role names), or None."""
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == username))
        return user and (user.active, user.must_change_password, sorted(r.name for r in user.roles))


def _user_id(app, username):
    with app.app_context():
        return db.session.scalar(db.select(User.id).where(User.username == username))


def _role_id(app, name):
    with app.app_context():
        return db.session.scalar(db.select(Role.id).where(Role.name == name))


def _activity(app, action):
    with app.app_context():
        return [(a.username, a.target, a.detail) for a in
                db.session.scalars(db.select(Activity).where(Activity.action == action).order_by(Activity.id))]


def _can_login(app, username, password=PASSWORD):
    return AuthActions(app.test_client()).login(username, password).status_code == 302


def _row(html, user_id):
    match = re.search(rf'<tr data-user-id="{user_id}".*?</tr>', html, re.S)
    assert match, f"no row for user {user_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0)))


@pytest.fixture
def bob(app):
    """A viewer who must change the password; returns his id."""
    with app.app_context():
        return create_user("bob", PASSWORD, roles=("viewer",), must_change=True).id


@pytest.fixture
def usermgr(login_as):
    """Someone who may manage users but is no admin."""
    return login_as("ursula", permissions=["manage_users"])


# --- the list -----------------------------------------------------------------

def test_users_page_shows_every_user_and_its_facts(app, admin, bob):
    with app.app_context():
        db.session.get(User, bob).active = False
        db.session.commit()
    html = admin.client.get("/users").get_data(as_text=True)
    alice = _row(html, _user_id(app, "alice"))
    assert "alice" in alice and "admin" in alice and " yes " in alice and " no " in alice
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", alice)  # last login and created
    row = _row(html, bob)
    assert "bob" in row and "viewer" in row and "disabled" in row and "never" in row and "Enable" in row
    assert 'href="/roles"' in html


def test_a_viewer_sees_the_list_without_controls(app, viewer, bob):
    response = viewer.client.get("/users")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "bob" in html and 'href="/roles"' in html
    assert 'id="user-form"' not in html and "/disable" not in html and "/enable" not in html
    detail = viewer.client.get(f"/users/{bob}").get_data(as_text=True)
    assert "bob" in detail and 'id="reset-form"' not in detail and 'id="roles-form"' not in detail


# --- create ---------------------------------------------------------------------

def test_new_user_form_asks_for_a_password_change_by_default(admin):
    html = admin.client.get("/users").get_data(as_text=True)
    checkbox = re.search(r'<input[^>]*id="must_change_password"[^>]*>', html).group(0)
    assert re.search(r"\bchecked\b", checkbox)


def test_create_user_with_roles(app, admin):
    operator = _role_id(app, "operator")
    response = admin.post("/users", data={"username": "dave", "password": "long-enough-1", "roles": [operator],
                                          "must_change_password": "y"})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/users"
    assert _user(app, "dave") == (True, True, ["operator"])
    assert _activity(app, "user_created") == [("alice", "dave", "roles: operator; must change password: True")]
    assert _can_login(app, "dave", "long-enough-1")


def test_create_user_without_the_flag_or_roles(app, admin):
    assert admin.post("/users", data={"username": "erin", "password": "long-enough-1"}).status_code == 302
    assert _user(app, "erin") == (True, False, [])


@pytest.mark.parametrize("data,message", [
    ({"username": "bad name!", "password": "long-enough-1"}, "Letters, digits"),
    ({"username": "", "password": "long-enough-1"}, "This field is required"),
    ({"username": "x" * 65, "password": "long-enough-1"}, "64"),
    ({"username": "frank", "password": "short"}, "between 8 and 256"),
    ({"username": "frank", "password": "long-enough-1", "roles": ["999"]}, "not a valid choice"),
    ({"username": "frank", "password": "long-enough-1", "roles": ["abc"]}, "Invalid"),
])
def test_bad_new_user_is_refused_and_nothing_written(app, admin, data, message):
    before = snapshot(app)
    response = admin.post("/users", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert snapshot(app) == before


@pytest.mark.parametrize("username", ["alice", "ALICE"])
def test_duplicate_username_is_refused(app, admin, username):
    before = snapshot(app)
    response = admin.post("/users", data={"username": username, "password": "long-enough-1"})
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert snapshot(app) == before


# --- disable / enable ----------------------------------------------------------------

def test_disable_and_enable(app, admin, bob):
    assert admin.post(f"/users/{bob}/disable").status_code == 302
    assert _user(app, "bob")[0] is False
    assert not _can_login(app, "bob")
    assert admin.post(f"/users/{bob}/enable").status_code == 302
    assert _user(app, "bob")[0] is True
    assert _can_login(app, "bob")
    assert _activity(app, "user_disabled") == [("alice", "bob", "")]
    assert _activity(app, "user_enabled") == [("alice", "bob", "")]


def test_disabling_twice_records_once(app, admin, bob):
    admin.post(f"/users/{bob}/disable")
    admin.post(f"/users/{bob}/disable")
    assert len(_activity(app, "user_disabled")) == 1


def test_disabling_ends_the_users_open_sessions(app, admin, login_as):
    mallory = login_as("mallory", roles=("viewer",))
    admin.post(f"/users/{_user_id(app, 'mallory')}/disable")
    assert urlsplit(mallory.client.get("/").headers.get("Location", "")).path == "/login"


def test_an_admin_cannot_disable_themselves(app, admin):
    before = snapshot(app)
    response = admin.post(f"/users/{_user_id(app, 'alice')}/disable")
    assert response.status_code == 400 and "cannot disable your own account" in response.get_data(as_text=True)
    assert snapshot(app) == before


def test_the_last_active_admin_cannot_be_disabled(app, admin, usermgr):
    before = snapshot(app)
    response = usermgr.post(f"/users/{_user_id(app, 'alice')}/disable")
    assert response.status_code == 400 and "last active admin" in response.get_data(as_text=True)
    assert snapshot(app) == before


def test_the_last_active_admin_keeps_the_admin_role(app, admin):
    before = snapshot(app)
    response = admin.post(f"/users/{_user_id(app, 'alice')}", data={"roles": [_role_id(app, "operator")]})
    assert response.status_code == 400 and "last active admin" in response.get_data(as_text=True)
    assert snapshot(app) == before


def test_a_disabled_admin_does_not_count(app, admin, usermgr):
    with app.app_context():
        create_user("carol", PASSWORD, roles=("admin",)).active = False
        db.session.commit()
    assert usermgr.post(f"/users/{_user_id(app, 'alice')}/disable").status_code == 400
    assert _user(app, "alice")[0] is True


def test_an_admin_can_go_when_another_remains(app, admin, usermgr):
    with app.app_context():
        create_user("carol", PASSWORD, roles=("admin",))
    assert usermgr.post(f"/users/{_user_id(app, 'alice')}/disable").status_code == 302
    assert _user(app, "alice")[0] is False


# --- reset password ------------------------------------------------------------------

def test_reset_password_forces_a_change(app, admin, bob):
    with app.app_context():
        db.session.get(User, bob).must_change_password = False
        db.session.commit()
    response = admin.post(f"/users/{bob}/reset-password", data={"password": "fresh-password-2"})
    assert response.status_code == 302
    assert _user(app, "bob")[1] is True
    assert _activity(app, "password_reset") == [("alice", "bob", "")]
    assert not _can_login(app, "bob", PASSWORD)
    response = AuthActions(app.test_client()).login("bob", "fresh-password-2")
    assert urlsplit(response.headers["Location"]).path == "/account/password"


def test_reset_password_too_short_is_refused(app, admin, bob):
    before = snapshot(app)
    response = admin.post(f"/users/{bob}/reset-password", data={"password": "short"})
    assert response.status_code == 400 and "between 8 and 256" in response.get_data(as_text=True)
    assert snapshot(app) == before


# --- edit roles -------------------------------------------------------------------------

def test_edit_roles(app, admin, bob):
    roles = [_role_id(app, "operator"), _role_id(app, "scheduler")]
    response = admin.post(f"/users/{bob}", data={"roles": roles})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == f"/users/{bob}"
    assert _user(app, "bob")[2] == ["operator", "scheduler"]
    assert _activity(app, "user_updated") == [("alice", "bob", "roles: viewer -> operator, scheduler")]
    assert admin.post(f"/users/{bob}", data={}).status_code == 302
    assert _user(app, "bob")[2] == []


def test_saving_the_same_roles_records_nothing(app, admin, bob):
    before = snapshot(app)
    assert admin.post(f"/users/{bob}", data={"roles": [_role_id(app, "viewer")]}).status_code == 302
    assert snapshot(app) == before


def test_edit_roles_form_shows_the_current_roles(app, admin, bob):
    html = admin.client.get(f"/users/{bob}").get_data(as_text=True)
    form = re.search(r'<form[^>]*id="roles-form".*?</form>', html, re.S).group(0)
    options = re.findall(r"<option[^>]*>", form)
    selected = {int(re.search(r'value="(\d+)"', o).group(1)) for o in options if re.search(r"\bselected\b", o)}
    assert selected == {_role_id(app, "viewer")}


def test_edit_roles_with_an_unknown_role_is_refused(app, admin, bob):
    before = snapshot(app)
    response = admin.post(f"/users/{bob}", data={"roles": ["999"]})
    assert response.status_code == 400 and "not a valid choice" in response.get_data(as_text=True)
    assert snapshot(app) == before


@pytest.mark.parametrize("path", ["", "/disable", "/enable", "/reset-password"])
def test_unknown_user_is_404(admin, path):
    assert admin.post(f"/users/999{path}", data={"password": "long-enough-1"}).status_code == 404
    if not path:
        assert admin.client.get("/users/999").status_code == 404


# --- roles ----------------------------------------------------------------------------------

def test_roles_page_lists_roles_and_what_each_permission_means(app, viewer):
    html = viewer.client.get("/roles").get_data(as_text=True)
    for name in ("admin", "operator", "scheduler", "viewer"):
        assert f'data-role="{name}"' in html
    assert "Create, edit, enable and delete schedules" in html and "Post payments (banking)" in html
    scheduler = re.search(r'<tr data-role="scheduler".*?</tr>', html, re.S).group(0)
    assert scheduler.count('aria-label="granted"') == 2


def test_edit_a_role_grants_its_users_the_permission(app, admin, login_as):
    olga = login_as("olga", roles=("operator",))
    assert olga.post("/jobs/tests.noop/toggle").status_code == 403
    response = admin.post(f"/roles/{_role_id(app, 'operator')}",
                          data={"permissions": ["trigger_runs", "manage_schedules"]})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Role, _role_id(app, "operator")).permissions == "trigger_runs manage_schedules"
    assert _activity(app, "role_updated") == [
        ("alice", "operator", "permissions: trigger_runs -> trigger_runs manage_schedules")]
    assert olga.post("/jobs/tests.noop/toggle").status_code == 302


def test_roles_form_shows_the_current_permissions(app, admin):
    html = admin.client.get("/roles").get_data(as_text=True)
    operator = _role_id(app, "operator")
    assert re.search(rf'id="perm-{operator}-trigger_runs"[^>]*checked', html)
    assert not re.search(rf'id="perm-{operator}-manage_users"[^>]*checked', html)
    assert f'id="perm-{_role_id(app, "admin")}-' not in html  # the admin role has no checkboxes


def test_saving_the_same_permissions_records_nothing(app, admin):
    before = snapshot(app)
    assert admin.post(f"/roles/{_role_id(app, 'scheduler')}",
                      data={"permissions": ["manage_schedules", "trigger_runs"]}).status_code == 302
    assert snapshot(app) == before


def test_unknown_permission_is_refused(app, admin):
    before = snapshot(app)
    response = admin.post(f"/roles/{_role_id(app, 'operator')}", data={"permissions": ["trigger_runs", "root"]})
    assert response.status_code == 400 and "unknown permission(s) root" in response.get_data(as_text=True)
    assert snapshot(app) == before


def test_the_admin_role_is_not_editable(app, admin):
    before = snapshot(app)
    response = admin.post(f"/roles/{_role_id(app, 'admin')}", data={"permissions": ["trigger_runs"]})
    assert response.status_code == 400 and "cannot be edited" in response.get_data(as_text=True)
    assert snapshot(app) == before


def test_unknown_role_is_404(admin):
    assert admin.post("/roles/999", data={}).status_code == 404


# --- flask users ------------------------------------------------------------------------------
# The commands are a plain click group, so FlaskCliRunner does not push an app context for them
# (the real `flask` command does): invoke them inside one.

def _cli(app, runner, *args):
    with app.app_context():
        return runner.invoke(args=list(args))


def test_cli_creates_an_admin_and_refuses_a_duplicate(app, runner):
    result = _cli(app, runner, "users", "create", "bob", "--password", "secret-pass-1", "--admin")
    assert result.exit_code == 0, result.output
    assert _user(app, "bob") == (True, False, ["admin"])
    assert _can_login(app, "bob", "secret-pass-1")
    result = _cli(app, runner, "users", "create", "bob", "--password", "other-pass-2")
    assert result.exit_code != 0 and "already exists" in result.output
    assert _can_login(app, "bob", "secret-pass-1")


def test_cli_refuses_a_short_password(app, runner):
    result = _cli(app, runner, "users", "create", "bob", "--password", "short")
    assert result.exit_code != 0 and "at least 8" in result.output and _user(app, "bob") is None


def test_cli_reset_password(app, runner):
    _cli(app, runner, "users", "create", "bob", "--password", "secret-pass-1")
    result = _cli(app, runner, "users", "reset-password", "bob", "--password", "newer-pass-3")
    assert result.exit_code == 0, result.output
    assert _user(app, "bob")[1] is True
    assert _can_login(app, "bob", "newer-pass-3") and not _can_login(app, "bob", "secret-pass-1")
    assert _cli(app, runner, "users", "reset-password", "nobody", "--password", "newer-pass-3").exit_code != 0


# --- concurrency ---------------------------------------------------------------------------

@requires_postgres
def test_two_admins_cannot_disable_each_other_at_once(app, admin, usermgr):
    """Another transaction that is disabling carol holds the admin rows; disabling alice waits and then refuses."""
    with app.app_context():
        create_user("carol", PASSWORD, roles=("admin",))
        conn = db.engine.connect()
        tx = conn.begin()
        conn.execute(text("SELECT u.id FROM users u JOIN user_roles ur ON ur.user_id = u.id "
                          "JOIN roles r ON r.id = ur.role_id WHERE r.name = 'admin' AND u.active FOR UPDATE OF u"))
        conn.execute(text("UPDATE users SET active = false WHERE username = 'carol'"))
    result = {}
    worker = threading.Thread(target=lambda: result.update(
        response=usermgr.post(f"/users/{_user_id(app, 'alice')}/disable")))
    worker.start()
    try:
        wait_for(lambda: _waiting_on_a_lock(app), message="the disable request to wait for the row lock")
    finally:
        tx.commit()
        conn.close()
    worker.join(timeout=30)
    assert result["response"].status_code == 400
    assert "last active admin" in result["response"].get_data(as_text=True)
    assert _user(app, "alice")[0] is True and _user(app, "carol")[0] is False


def _waiting_on_a_lock(app):
    with app.app_context():
        return db.session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                      "AND datname = current_database()"))


def test_manage_users_alone_cannot_grant_admin_or_edit_roles(app, auth):
    from app.auth.models import Role, User
    from app.extensions import db
    from tests.conftest import create_user
    with app.app_context():
        db.session.add(Role(name="usermgr", description="", permissions="manage_users"))
        db.session.commit()
        create_user("mallory", roles=("usermgr",))
        admin_id = db.session.scalar(db.select(Role.id).where(Role.name == "admin"))
        usermgr_id = db.session.scalar(db.select(Role.id).where(Role.name == "usermgr"))
        operator_id = db.session.scalar(db.select(Role.id).where(Role.name == "operator"))
        mallory_id = db.session.scalar(db.select(User.id).where(User.username == "mallory"))
    auth.login("mallory")
    grant_self = auth.post(f"/users/{mallory_id}", data={"roles": [str(usermgr_id), str(admin_id)]})
    assert grant_self.status_code == 403
    new_admin = auth.post("/users", data={"username": "eve", "password": "long-enough-1", "roles": [str(admin_id)]})
    assert new_admin.status_code == 403
    widen_role = auth.post(f"/roles/{usermgr_id}", data={"permissions": ["manage_users", "manage_settings"]})
    assert widen_role.status_code == 403
    with app.app_context():
        assert {r.name for r in db.session.get(User, mallory_id).roles} == {"usermgr"}
        assert db.session.scalar(db.select(User).where(User.username == "eve")) is None
        assert db.session.get(Role, usermgr_id).permissions == "manage_users"
    ok = auth.post("/users", data={"username": "olga", "password": "long-enough-1", "roles": [str(operator_id)]})
    assert ok.status_code == 302, "granting non-admin roles stays allowed"
