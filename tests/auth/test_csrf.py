"""Every POST route refuses a request without a CSRF token and changes nothing, found by walking the URL map."""
from tests.auth.conftest import build_url, rules_with, snapshot

CSRF_MESSAGE = "security token"


def _post_variants(url, token=None):
    headers = {"X-CSRFToken": token} if token else {}
    form = {"csrf_token": token} if token else {}
    return [("form", dict(data={**form, "username": "mallory", "password": "long-enough-1", "cron": "* * * * *",
                                "job_id": "tests.noop", "permissions": "manage_users", "roles": "1"})),
            ("json", dict(json={"params": {}}, headers=headers))]


def test_every_post_without_a_token_is_refused_and_writes_nothing(app, admin, targets):
    before = snapshot(app)
    refused = []
    for rule in rules_with(app, "POST"):
        url = build_url(rule, targets)
        for kind, kwargs in _post_variants(url):
            response = admin.client.post(url, **kwargs)
            assert response.status_code == 400, (url, kind, response.status_code)
            assert CSRF_MESSAGE in response.get_data(as_text=True), (url, kind)
            refused.append(url)
    assert len(refused) >= 2 * 15
    assert snapshot(app) == before
    assert admin.client.get("/").status_code == 200  # /logout without a token did not sign us out


def test_a_wrong_token_is_refused_too(app, admin, targets):
    before = snapshot(app)
    for rule in rules_with(app, "POST"):
        url = build_url(rule, targets)
        for kind, kwargs in _post_variants(url, token="forged-token"):
            response = admin.client.post(url, **kwargs)
            assert response.status_code == 400, (url, kind, response.status_code)
    assert snapshot(app) == before


def test_json_endpoints_answer_csrf_errors_in_json(app, admin):
    response = admin.client.post("/api/refresh", json={})
    assert response.status_code == 400 and response.is_json
    assert CSRF_MESSAGE in response.get_json()["error"]


def test_with_the_token_no_route_answers_the_csrf_error(app, admin, targets):
    """Control: the refusals above are the CSRF check's doing, not URLs that fail anyway."""
    token = admin.csrf("/account/password")
    for rule in rules_with(app, "POST"):
        if rule.endpoint == "auth.logout":
            continue  # would end the session the rest of the loop needs
        url = build_url(rule, targets)
        for kind, kwargs in _post_variants(url, token):
            response = admin.client.post(url, **kwargs)
            assert CSRF_MESSAGE not in response.get_data(as_text=True), (url, kind, response.status_code)
