"""The Settings page: shows every setting, saves all-or-nothing, audits, and is read-only for viewers."""
import html

import pytest
from sqlalchemy import delete, select

from app.auth.models import Activity
from app import settings
from app.settings.models import Setting
from app.extensions import db
from tests.conftest import create_user
from tests.dashboard.conftest import read_form


def settings_table(app):
    """Every stored settings row, to prove a rejected save wrote nothing."""
    with app.app_context():
        rows = db.session.scalars(select(Setting).order_by(Setting.key)).all()
        return {r.key: (r.value, r.updated_at, r.updated_by) for r in rows}


def activities(app, action="settings_changed"):
    with app.app_context():
        return [(a.username, a.target, a.detail) for a in db.session.scalars(
            select(Activity).where(Activity.action == action).order_by(Activity.id))]


def page_form(client):
    response = client.get("/settings")
    assert response.status_code == 200
    return read_form(response.get_data(as_text=True), "settings-form")


def test_get_shows_defaults(app, admin, client):
    with app.app_context():  # tests.conftest stores refresh_on_login_minutes=0: back to bare defaults
        db.session.execute(delete(Setting))
        db.session.commit()
    response = client.get("/settings")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="save-settings"' in page
    form = read_form(page, "settings-form")
    assert form["business_timezone"] == "UTC" and form["day_cutoff"] == "00:00"
    assert form["retention_days"] == "30" and form["refresh_on_login_minutes"] == "15"
    assert form["stale_minutes:*"] == "120" and form["stale_minutes:tests.sleepy"] == ""
    assert form["global_refresh_mode"] == "default" and form["global_refresh_jobs"] == "tests.sleepy"
    assert form["notify:*:on_failure"] == "on" and "notify:*:on_success" not in form
    assert form["notify:*:emails"] == "" and "notify:tests.fail:own" not in form
    assert '<option value="Europe/London">' in page  # the timezone datalist
    assert "disabled_jobs" not in page and "system.purge" in page


def test_valid_changes_persist_and_are_audited(app, admin, client):
    form = page_form(client)
    form.update({
        "business_timezone": "Europe/London", "day_cutoff": "04:00", "retention_days": "60",
        "refresh_on_login_minutes": "5", "stale_minutes:*": "90", "stale_minutes:tests.sleepy": "30",
        "global_refresh_mode": "chosen", "global_refresh_jobs": ["tests.noop", "tests.sleepy"],
        "notify:*:emails": "ops@example.com, finance@example.com",
        "notify:tests.fail:own": "on", "notify:tests.fail:emails": "oncall@example.com",
        "notify:tests.fail:webhook": "https://hooks.example.com/T1/secret-token",
        "notify:tests.fail:on_failure": "on", "notify:tests.fail:on_stale": "on",
    })
    response = admin.post("/settings", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)

    with app.app_context():
        values = settings.get_many()
    assert values["business_timezone"] == "Europe/London" and values["day_cutoff"] == "04:00"
    assert values["retention_days"] == 60 and values["refresh_on_login_minutes"] == 5
    assert values["stale_minutes"] == {"*": 90, "tests.sleepy": 30}
    assert values["global_refresh_jobs"] == ["tests.noop", "tests.sleepy"]
    assert values["notifications"] == {
        "*": {"emails": ["ops@example.com", "finance@example.com"], "webhook": "", "on_failure": True,
              "on_success": False, "on_stale": False},
        "tests.fail": {"emails": ["oncall@example.com"], "webhook": "https://hooks.example.com/T1/secret-token",
                       "on_failure": True, "on_success": False, "on_stale": True},
    }
    assert values["disabled_jobs"] == []  # not this page's business
    assert settings_table(app)["retention_days"][2] == "alice"

    (entry,) = activities(app)
    assert entry[0] == "alice" and "secret-token" not in entry[2]
    for key in ("business_timezone", "day_cutoff", "retention_days", "refresh_on_login_minutes",
                "stale_minutes", "global_refresh_jobs", "notifications"):
        assert key in entry[2]

    page = client.get("/settings").get_data(as_text=True)
    assert "Saved:" in page and read_form(page, "settings-form")["notify:tests.fail:own"] == "on"


def test_saving_unchanged_form_writes_nothing(app, admin, client):
    form = page_form(client)
    form["retention_days"] = "45"
    admin.post("/settings", data=form)
    before = settings_table(app)
    response = admin.post("/settings", data=page_form(client), follow_redirects=True)
    assert "Nothing changed." in response.get_data(as_text=True)
    assert settings_table(app) == before and len(activities(app)) == 1


def test_only_changed_keys_are_listed(app, admin, client):
    before = settings_table(app)
    form = page_form(client)
    form["day_cutoff"] = "05:30"
    admin.post("/settings", data=form)
    assert activities(app) == [("alice", "settings", "changed: day_cutoff")]
    after = settings_table(app)
    assert set(after) - set(before) == {"day_cutoff"}  # defaults are not copied into the table
    assert {k: v for k, v in after.items() if k != "day_cutoff"} == before


def test_global_refresh_default_stores_none(app, admin, client):
    form = page_form(client)
    form.update(global_refresh_mode="chosen", global_refresh_jobs=["tests.noop"])
    admin.post("/settings", data=form)
    with app.app_context():
        assert settings.get("global_refresh_jobs") == ["tests.noop"]
    form = page_form(client)
    assert form["global_refresh_mode"] == "chosen" and form["global_refresh_jobs"] == "tests.noop"
    form["global_refresh_mode"] = "default"
    admin.post("/settings", data=form)
    with app.app_context():
        assert settings.get("global_refresh_jobs") is None


def test_rules_for_jobs_not_listed_are_kept(app, admin, client):
    """A rule or stale limit of a job no longer registered (connector switched off) survives a save."""
    gone_rule = {"emails": ["x@example.com"], "webhook": "", "on_failure": True, "on_success": False,
                 "on_stale": False}
    with app.app_context():
        settings.put("notifications", {"*": settings.DEFAULTS["notifications"]["*"], "gone.job": gone_rule})
        settings.put("stale_minutes", {"*": 120, "gone.job": 5})
        db.session.commit()
    form = page_form(client)
    form["notify:*:on_success"] = "on"
    assert admin.post("/settings", data=form).status_code == 302
    with app.app_context():
        assert settings.get("notifications")["gone.job"] == gone_rule
        assert settings.get("notifications")["*"]["on_success"] is True
        assert settings.get("stale_minutes") == {"*": 120, "gone.job": 5}


INVALID = [
    ({"business_timezone": "Mars/Olympus"}, "Unknown timezone: 'Mars/Olympus'"),
    ({"day_cutoff": "25:00"}, "Day cutoff must be a time as HH:MM"),
    ({"retention_days": "0"}, "Retention (days) must be between 1 and 3650"),
    ({"refresh_on_login_minutes": "-5"}, "Refresh-on-login threshold (minutes) must be between 0 and 10080"),
    ({"notify:*:emails": "ops@example.com, not-an-email"}, "Not an email address: 'not-an-email'"),
    ({"notify:*:webhook": "ftp://x"}, "Webhook must be an http(s) URL"),
    ({"global_refresh_mode": "chosen", "global_refresh_jobs": ["tests.noop", "nope.job"]}, "Unknown job: 'nope.job'"),
    ({"stale_minutes:tests.sleepy": "soon"}, "Stale limit (minutes) must be a whole number"),
]


@pytest.mark.parametrize("change,message", INVALID, ids=[next(iter(c)) for c, _ in INVALID])
def test_invalid_value_is_rejected_and_nothing_is_written(app, admin, client, change, message):
    form = page_form(client)
    form["retention_days"] = "90"  # a valid change that must not be written either
    admin.post("/settings", data=form)
    before, audited = settings_table(app), activities(app)

    form = page_form(client)
    form.update({"day_cutoff": "06:00", "notify:tests.noop:own": "on", **change})
    response = admin.post("/settings", data=form)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert message in page and "Nothing was saved." in page
    assert settings_table(app) == before and activities(app) == audited
    shown = read_form(response.get_data(as_text=True), "settings-form")
    for name, value in change.items():  # the form comes back as typed, to be corrected
        if isinstance(value, str) and name != "global_refresh_mode":
            assert shown[name] == value


def test_every_invalid_value_is_reported_at_once(app, admin, client):
    before = settings_table(app)
    form = page_form(client)
    form.update(day_cutoff="7am", retention_days="0")
    response = admin.post("/settings", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Day cutoff must be a time" in page and "Retention (days) must be between" in page
    assert settings_table(app) == before


def test_viewer_sees_values_read_only_and_cannot_save(app, auth, client):
    with app.app_context():
        create_user("victor", roles=("viewer",))
        settings.put("retention_days", 40)
        db.session.commit()
    auth.login("victor")
    response = client.get("/settings")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="save-settings"' not in page and "<fieldset disabled>" in page and 'value="40"' in page
    assert set(read_form(page, "settings-form")) == {"csrf_token"}  # nothing a browser would submit

    before = settings_table(app)
    response = auth.post("/settings", data={"retention_days": "5", "day_cutoff": "01:00"})
    assert response.status_code == 403
    assert "manage_settings" in response.get_data(as_text=True)
    assert settings_table(app) == before and activities(app) == []


def test_login_required(client):
    response = client.get("/settings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
