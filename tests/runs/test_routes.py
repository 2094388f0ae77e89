"""Pages and endpoints of the engine: happy paths and bad input (clear message, 4xx, nothing written)."""
from html import unescape

import pytest
from sqlalchemy import func, select

from app.auth.models import Activity
from app.extensions import db
from app.runs.models import Run, Schedule
from tests.runs.helpers import count_runs, queue, wait_status


def _counts(app):
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Run, Schedule, Activity))


def test_overview_panels_fragment_has_the_data_only(admin):
    body = admin.client.get("/overview/panels").get_data(as_text=True)
    assert 'id="kpis"' in body and "<nav" not in body


@pytest.mark.parametrize("path", ["/", "/jobs", "/runs", "/logs", "/schedules",
                                  "/runs?job=tests.noop&status=failed&trigger=manual&from=2026-01-01&to=2026-12-31",
                                  "/logs?job=tests.noop&level=WARNING&q=x&from=2026-01-01"])
def test_pages_render(app, admin, path):
    response = admin.client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert 'id="refresh-btn"' in response.get_data(as_text=True)


@pytest.mark.parametrize("path, message", [
    ("/runs?from=2026-13-01", "'from' must be a date as YYYY-MM-DD"),
    ("/runs?to=yesterday", "'to' must be a date"),
    ("/runs?status=exploded", "'status' must be one of"),
    ("/runs?job=nope", "'job' must be one of"),
    ("/runs?page=0", "'page' must be 1 or more"),
    ("/runs?per_page=100000", "'per_page' one of 25, 50, 100"),
    ("/logs?level=LOUD", "'level' must be one of"),
    ("/logs?q=" + "x" * 300, "'q' is longer than 200"),
])
def test_bad_filters_answer_400_with_the_reason(admin, path, message):
    response = admin.client.get(path)
    assert response.status_code == 400
    assert message in unescape(response.get_data(as_text=True))


def test_run_now_queues_and_audits(app, admin):
    response = admin.post("/jobs/tests.sleepy/run", data={"param_steps": "2", "param_delay": "0.01"})
    assert response.status_code == 303
    with app.app_context():
        run = db.session.scalar(select(Run))
        assert run.params == {"steps": 2, "delay": 0.01} and run.requested_by == "alice" and run.trigger == "manual"
        assert db.session.scalar(select(Activity).where(Activity.action == "run_triggered")).target == "tests.sleepy"


def test_run_now_twice_shows_the_run_in_flight(app, admin):
    first = admin.post("/api/jobs/tests.noop/run", json={})
    second = admin.post("/api/jobs/tests.noop/run", json={})
    assert first.status_code == 202 and second.status_code == 200
    assert second.get_json()["created"] == []
    assert second.get_json()["run"]["id"] == first.get_json()["run"]["id"]
    assert second.get_json()["message"] == f"Already in flight: run {first.get_json()['run']['id']}"


@pytest.mark.parametrize("url, payload, status, message", [
    ("/api/jobs/nope/run", {}, 400, "Unknown job: 'nope'"),
    ("/api/jobs/tests.sleepy/run", {"params": {"steps": "many"}}, 400, "Parameter 'steps' must be a int"),
    ("/api/jobs/tests.sleepy/run", {"params": {"colour": "red"}}, 400, "Unknown parameter 'colour'"),
    ("/api/jobs/tests.sleepy/run", {"params": {"steps": "1" * 600}}, 400, "longer than 500"),
    ("/api/jobs/tests.sleepy/run", {"params": ["x"]}, 400, "'params' must be an object"),
])
def test_bad_trigger_input_is_refused_and_nothing_written(app, admin, url, payload, status, message):
    before = _counts(app)
    response = admin.post(url, json=payload)
    assert response.status_code == status and response.is_json
    assert message in response.get_json()["error"]
    assert _counts(app) == before


def test_run_now_page_form_with_bad_params_flashes_and_writes_nothing(app, admin):
    before = _counts(app)
    response = admin.post("/jobs/tests.sleepy/run", data={"param_steps": "abc"}, follow_redirects=True)
    assert "Parameter 'steps' must be a int" in unescape(response.get_data(as_text=True))
    assert _counts(app) == before


def test_unknown_job_page_is_404(admin):
    assert admin.post("/jobs/nope/run").status_code == 404


@pytest.mark.parametrize("form, message", [
    ({"job_id": "tests.noop", "cron": "61 * * * *"}, "Invalid cron"),
    ({"job_id": "tests.noop", "cron": "* * *"}, "Cron must have five fields"),
    ({"job_id": "nope", "cron": "0 2 * * *"}, "Unknown job"),
    ({"job_id": "tests.noop", "cron": "0 2 * * *", "timezone": "Mars/Base"}, "Unknown timezone"),
    ({"job_id": "tests.noop", "cron": "0 2 * * *", "name": "n" * 101}, "longer than 100"),
    ({"job_id": "tests.sleepy", "cron": "0 2 * * *", "param_steps": "lots"}, "must be a int"),
])
def test_bad_schedules_are_refused_with_a_message(app, admin, form, message):
    before = _counts(app)
    response = admin.post("/schedules", data={"enabled": "on", **form})
    assert response.status_code == 400
    assert message in unescape(response.get_data(as_text=True))
    assert _counts(app) == before


def test_schedule_lifecycle_through_the_pages(app, admin):
    response = admin.post("/schedules", data={"job_id": "tests.sleepy", "cron": "0 2 * * *", "enabled": "on",
                                              "param_steps": "3", "name": "nightly"})
    assert response.status_code == 302
    with app.app_context():
        schedule = db.session.scalar(select(Schedule).where(Schedule.system.is_(False)))
        assert (schedule.cron, schedule.params, schedule.enabled) == ("0 2 * * *", {"steps": 3, "delay": 0.2}, True)
        sid, version = schedule.id, schedule.version
    assert "At 02:00" in admin.client.get("/schedules").get_data(as_text=True)
    assert admin.post(f"/schedules/{sid}/edit", data={"job_id": "tests.sleepy", "cron": "30 3 * * *"}).status_code == 302
    assert admin.post(f"/schedules/{sid}/toggle").status_code == 302
    with app.app_context():
        schedule = db.session.get(Schedule, sid)
        assert schedule.cron == "30 3 * * *" and schedule.version > version + 1
        assert schedule.enabled is True  # edit without 'enabled' switched it off; toggle switched it on
    response = admin.post(f"/schedules/{sid}/run-now")
    assert response.status_code == 303 and count_runs(app, job_id="tests.sleepy") == 1
    assert admin.post(f"/schedules/{sid}/delete").status_code == 302
    with app.app_context():
        assert db.session.get(Schedule, sid) is None
        actions = set(db.session.scalars(select(Activity.action)))
    assert {"schedule_created", "schedule_updated", "schedule_toggled", "schedule_run_now", "schedule_deleted"} <= actions


def test_system_schedule_cannot_be_deleted(app, admin):
    from app.runs.scheduler import ensure_system_schedules
    with app.app_context():
        ensure_system_schedules()
        sid = db.session.scalar(select(Schedule.id).where(Schedule.system.is_(True)))
    response = admin.post(f"/schedules/{sid}/delete", follow_redirects=True)
    assert "System schedules cannot be deleted" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Schedule, sid) is not None


def test_cron_preview_endpoint(admin):
    ok = admin.client.get("/api/schedules/preview?cron=0+2+*+*+*")
    assert ok.status_code == 200 and ok.get_json()["description"] == "At 02:00" and len(ok.get_json()["next"]) == 5
    bad = admin.client.get("/api/schedules/preview?cron=0+99+*+*+*")
    assert bad.status_code == 400 and "Invalid cron" in bad.get_json()["error"]


def test_job_toggle_disables_and_enables(app, admin):
    admin.post("/jobs/tests.noop/toggle")
    from app import settings
    with app.app_context():
        assert settings.get("disabled_jobs") == ["tests.noop"]
    admin.post("/jobs/tests.noop/toggle")
    with app.app_context():
        assert settings.get("disabled_jobs") == []


def test_run_detail_and_terminate_button(app, admin, executor):
    run_id, _ = queue(app, "tests.forever")
    wait_status(app, run_id, "running")
    page = admin.client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert '<span id="run-status"><span class="badge text-bg-primary status-badge" data-status="running">' in page
    assert 'id="terminate"' in page
    admin.post(f"/runs/{run_id}/cancel")
    run = wait_status(app, run_id, "cancelled")
    assert run.reason == "cancelled by alice"
    page = admin.client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert '<span id="run-status"><span class="badge text-bg-warning status-badge" data-status="cancelled">' in page
    assert 'id="terminate"' not in page


def test_refresh_is_single_flight_and_events_report_runs(app, admin, executor):
    first = admin.post("/api/refresh", json={}).get_json()
    second = admin.post("/api/refresh", json={}).get_json()
    assert [r["job_id"] for r in first["runs"]] == ["tests.sleepy"]
    assert first["created"] == [first["runs"][0]["id"]] and second["created"] == []
    assert second["runs"][0]["id"] == first["runs"][0]["id"]
    assert admin.client.get("/api/refresh").get_json()["runs"][0]["id"] == first["runs"][0]["id"]
    run = wait_status(app, first["runs"][0]["id"], "succeeded")
    events = admin.client.get("/api/events?since=2000-01-01T00:00:00Z").get_json()["events"]
    finished = [e for e in events if e["kind"] == "finished" and e["id"] == run.id]
    assert finished and finished[0]["message"].startswith("Refreshed 50 items in ")
    assert admin.client.get("/api/events?since=garbage").status_code == 400


def _set_login_threshold(app, minutes):
    from app import settings
    with app.app_context():
        settings.put("refresh_on_login_minutes", minutes)
        db.session.commit()


def test_login_enqueues_refresh_when_data_is_stale_and_not_when_fresh(app, auth, executor):
    from tests.conftest import create_user
    _set_login_threshold(app, 15)
    with app.app_context():
        create_user("bob", roles=("viewer",))
    response = auth.login("bob")
    assert response.status_code == 302
    with app.app_context():
        run = db.session.scalar(select(Run).where(Run.trigger == "login"))
    assert run is not None and run.job_id == "tests.sleepy" and run.requested_by == "bob"
    wait_status(app, run.id, "succeeded")
    auth.logout()
    auth.login("bob")
    assert count_runs(app, trigger="login") == 1, "fresh data: the second login queues nothing"


def test_login_never_waits_for_or_fails_with_the_refresh(app, auth):
    from tests.conftest import create_user
    _set_login_threshold(app, 15)
    with app.app_context():
        create_user("bob", roles=("viewer",))
    # No executor runs: the login must still answer at once, leaving the run queued.
    response = auth.login("bob")
    assert response.status_code == 302
    assert count_runs(app, trigger="login", status="queued") == 1
