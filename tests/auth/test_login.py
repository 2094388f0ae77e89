"""Signing in and out: activity, throttling, safe redirects, forced password change, cookie flags."""
from urllib.parse import urlsplit

import pytest

from app.auth.models import Activity, User
from app.extensions import db
from tests.auth.conftest import PASSWORD, build_url, rules_with
from tests.conftest import create_user


def _actions(app, action):
    with app.app_context():
        return db.session.scalars(db.select(Activity).where(Activity.action == action).order_by(Activity.id)).all()


def _signed_in(client):
    return client.get("/").status_code == 200


@pytest.fixture
def alice(app):
    """Alice's user id."""
    with app.app_context():
        return create_user("alice", PASSWORD, roles=("operator",)).id


def test_good_login_redirects_and_is_recorded(app, client, auth, alice):
    response = auth.login("alice", PASSWORD)
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/"
    assert _signed_in(client)
    [entry] = _actions(app, "login")
    assert (entry.username, entry.user_id, entry.ip) == ("alice", alice, "127.0.0.1")
    with app.app_context():
        assert db.session.get(User, alice).last_login_at is not None


def test_bad_password_is_refused_and_recorded(app, client, auth, alice):
    response = auth.login("alice", "wrong-password")
    assert response.status_code == 401 and "Invalid username or password" in response.get_data(as_text=True)
    assert not _signed_in(client)
    assert [(e.action, e.target) for e in _actions(app, "login_failed")] == [("login_failed", "alice")]
    assert _actions(app, "login") == []


def test_unknown_user_gets_the_same_answer(app, auth):
    response = auth.login("nobody", PASSWORD)
    assert response.status_code == 401 and "Invalid username or password" in response.get_data(as_text=True)


def test_too_many_failures_block_even_the_right_password(app, client, auth, alice):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert auth.login("alice", "wrong-password").status_code == 401
    response = auth.login("alice", PASSWORD)
    assert response.status_code == 429 and "Too many failed logins" in response.get_data(as_text=True)
    assert not _signed_in(client)
    assert len(_actions(app, "login_throttled")) == 1 and _actions(app, "login") == []


def test_failures_below_the_limit_do_not_block(app, client, auth, alice):
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        auth.login("alice", "wrong-password")
    assert auth.login("alice", PASSWORD).status_code == 302


def _login_with_next(client, auth, target):
    token = auth.csrf("/login")
    return client.post("/login", query_string={"next": target},
                       data={"username": "alice", "password": PASSWORD, "csrf_token": token})


def test_next_is_followed_for_a_local_path(client, auth, alice):
    response = _login_with_next(client, auth, "/runs")
    assert response.status_code == 302 and response.headers["Location"] == "/runs"


@pytest.mark.parametrize("target", ["http://evil.example/", "//evil.example", "/\\evil", "https:evil.example"])
def test_next_is_ignored_unless_local(client, auth, alice, target):
    response = _login_with_next(client, auth, target)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.netloc in ("", "localhost") and location.path == "/", response.headers["Location"]


def test_a_flagged_user_must_change_the_password_first(app, client, auth):
    with app.app_context():
        create_user("carol", PASSWORD, roles=("admin",), must_change=True)
    response = auth.login("carol", PASSWORD)
    assert urlsplit(response.headers["Location"]).path == "/account/password"
    pages = [r for r in rules_with(app, "GET") if r.endpoint != "auth.change_password"]
    assert len(pages) >= 15
    for rule in pages:
        url = build_url(rule)
        response = client.get(url)
        if url.startswith("/api/"):
            assert response.status_code == 403 and "Password change required" in response.get_json()["error"], url
        else:
            assert response.status_code == 302, url
            assert urlsplit(response.headers["Location"]).path == "/account/password", url
    assert auth.post("/api/refresh", json={}).status_code == 403
    assert _actions(app, "refresh") == []


def test_changing_the_password_with_a_wrong_current_one_is_refused(app, client, auth):
    with app.app_context():
        create_user("carol", PASSWORD, must_change=True)
    auth.login("carol", PASSWORD)
    response = auth.post("/account/password", data={"current_password": "not-it-at-all",
                                                     "new_password": "brand-new-pass", "confirm": "brand-new-pass"})
    assert response.status_code == 400 and "Current password is wrong" in response.get_data(as_text=True)
    with app.app_context():
        carol = db.session.scalar(db.select(User).where(User.username == "carol"))
        assert carol.must_change_password and carol.check_password(PASSWORD)
    assert client.get("/runs").status_code == 302


def test_changing_the_password_unlocks_the_app(app, client, auth):
    with app.app_context():
        create_user("carol", PASSWORD, must_change=True)
    auth.login("carol", PASSWORD)
    response = auth.post("/account/password", data={"current_password": PASSWORD, "new_password": "brand-new-pass",
                                                     "confirm": "brand-new-pass"})
    assert response.status_code == 302
    assert client.get("/runs").status_code == 200 and client.get("/api/runs").status_code == 200
    with app.app_context():
        carol = db.session.scalar(db.select(User).where(User.username == "carol"))
        assert not carol.must_change_password and carol.check_password("brand-new-pass")
    assert [e.username for e in _actions(app, "password_changed")] == ["carol"]


def test_logout_is_post_only_and_recorded(app, client, auth, alice):
    auth.login("alice", PASSWORD)
    assert client.get("/logout").status_code == 405
    assert _signed_in(client)
    response = auth.logout()
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    assert not _signed_in(client)
    assert [e.username for e in _actions(app, "logout")] == ["alice"]


def test_session_cookie_is_httponly_and_samesite_lax(client, auth, alice):
    response = auth.login("alice", PASSWORD)
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    flags = {part.strip().lower() for part in cookies[-1].split(";")}
    assert "httponly" in flags and "samesite=lax" in flags


def test_a_disabled_user_cannot_sign_in(app, client, auth, alice):
    with app.app_context():
        db.session.get(User, alice).active = False
        db.session.commit()
    assert auth.login("alice", PASSWORD).status_code == 401
    assert not _signed_in(client)
