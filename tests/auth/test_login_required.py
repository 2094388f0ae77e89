"""Every route except the public ones refuses a signed-out request, found by walking the URL map."""
from urllib.parse import parse_qs, urlsplit

import pytest

from app.auth import PUBLIC_ENDPOINTS
from tests.auth.conftest import PUBLIC, build_url, rules_with, snapshot
from tests.conftest import create_user



def _assert_sent_to_login(response, url):
    if urlsplit(url).path.startswith("/api/"):
        assert response.status_code == 401, url
        assert response.is_json and response.get_json()["error"] == "Login required", url
    else:
        assert response.status_code == 302, url
        assert urlsplit(response.headers["Location"]).path == "/login", url


def test_the_public_endpoints_are_exactly_the_agreed_ones():
    """Widening the public set must be a deliberate change to this test too."""
    assert PUBLIC_ENDPOINTS == PUBLIC


def test_the_walk_sees_the_known_routes(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert PUBLIC <= endpoints
    expected = {"admin.users", "admin.create_user", "admin.activity", "admin.activity_csv", "admin.roles",
                "runs.jobs", "api.refresh", "dashboard.overview", "auth.logout"}
    assert expected <= {r.endpoint for r in rules_with(app, "GET") + rules_with(app, "POST")}


def test_every_page_and_endpoint_needs_a_login(app, client):
    with app.app_context():
        create_user("alice")  # so ids like /users/1 exist and a leak would show data
    checked = 0
    for rule in rules_with(app, "GET"):
        url = build_url(rule)
        _assert_sent_to_login(client.get(url), url)
        checked += 1
    assert checked >= 15


def test_html_redirect_remembers_where_the_user_was_going(client):
    response = client.get("/runs?status=failed")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and parse_qs(location.query) == {"next": ["/runs?status=failed"]}


def test_every_state_change_is_refused_when_signed_out(app, client):
    with app.app_context():
        create_user("alice")
    before = snapshot(app)
    for rule in rules_with(app, "POST"):
        url = build_url(rule)
        for kwargs in ({"data": {"username": "alice"}}, {"json": {}}):
            response = client.post(url, **kwargs)
            assert response.status_code in (302, 400, 401), (url, response.status_code)
            if response.status_code == 302:
                assert urlsplit(response.headers["Location"]).path == "/login", url
    assert snapshot(app) == before


def test_a_valid_csrf_token_without_a_login_is_still_refused(app, client, auth):
    with app.app_context():
        create_user("alice")
    token = auth.csrf("/login")  # an anonymous session's token: the CSRF check passes, the login check must not
    before = snapshot(app)
    for rule in rules_with(app, "POST"):
        url = build_url(rule)
        _assert_sent_to_login(client.post(url, data={"csrf_token": token}), url)
        _assert_sent_to_login(client.post(url, json={}, headers={"X-CSRFToken": token}), url)
    assert snapshot(app) == before


@pytest.mark.parametrize("endpoint", sorted(PUBLIC - {"static"}))
def test_public_endpoints_answer_without_a_login(app, client, endpoint):
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    response = client.get(build_url(rule), headers={"Authorization": "Bearer test-metrics-token"})
    assert response.status_code in (200, 503)  # healthz is 503 without a live scheduler


def test_an_htmx_poll_of_an_expired_session_sends_the_page_to_login(client):
    response = client.get("/fragments/refresh", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/login"
