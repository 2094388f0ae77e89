"""How uisp.refresh is started: the Refresh Data button, a login, its schedule — never twice at once."""
import threading
from datetime import datetime, timezone

from sqlalchemy import select

from app.extensions import db
from app.runs.models import Run, Schedule
from app.runs.refresh import global_refresh_job_ids
from app.runs.registry import get_job
from app.runs.scheduler import ensure_system_schedules, record_fire
from tests.conftest import AuthActions, create_user, put_settings
from tests.runs.helpers import get_run


def test_refresh_is_part_of_the_global_refresh_and_scheduled_every_30_minutes(app):
    job = get_job("uisp.refresh")
    assert job.refresh and job.freshness and job.cron == "*/30 * * * *"
    with app.app_context():
        assert "uisp.refresh" in global_refresh_job_ids()
        ensure_system_schedules()
        schedule = db.session.scalar(select(Schedule).where(Schedule.job_id == "uisp.refresh"))
        assert schedule.system and schedule.enabled and schedule.cron == "*/30 * * * *"


def test_refresh_button_login_and_schedule_fire_at_once_make_one_run(app, uisp):
    """Seed 000: no server-side guard against concurrent refreshes; the button, a login and the
    30-minute schedule all started their own."""
    put_settings(app, global_refresh_jobs=["uisp.refresh"], refresh_on_login_minutes=15)
    with app.app_context():
        create_user("alice", roles=("admin",))
        create_user("bob", roles=("viewer",))
        ensure_system_schedules()
        schedule_id = db.session.scalar(select(Schedule.id).where(Schedule.job_id == "uisp.refresh"))
    button, login = AuthActions(app.test_client()), AuthActions(app.test_client())
    assert button.login("alice").status_code == 302
    token = login.csrf("/login")
    start = threading.Barrier(3)
    answers = {}

    def press_button():
        start.wait()
        answers["button"] = button.post("/api/refresh", json={})

    def log_in():
        start.wait()
        answers["login"] = login.client.post("/login", data={"username": "bob", "password": "correct-horse-9",
                                                             "csrf_token": token})

    def fire_schedule():
        with app.app_context():
            start.wait()
            answers["schedule"] = record_fire(schedule_id, datetime.now(timezone.utc).replace(tzinfo=None, second=0,
                                                                                                microsecond=0))
            db.session.commit()

    threads = [threading.Thread(target=f) for f in (press_button, log_in, fire_schedule)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers["button"].status_code in (200, 202) and answers["login"].status_code == 302
    with app.app_context():
        runs = list(db.session.scalars(select(Run).where(Run.job_id == "uisp.refresh")))
    assert len(runs) == 1, [(r.id, r.trigger) for r in runs]
    assert [r["id"] for r in answers["button"].get_json()["runs"]] == [runs[0].id]


def test_login_does_not_wait_for_the_refresh(app, auth, uisp, executor):
    """Seed 000: the refresh ran inside the login request, so logging in took as long as a refresh."""
    put_settings(app, global_refresh_jobs=["uisp.refresh"], refresh_on_login_minutes=15)
    uisp.faults(latency_ms=300)
    with app.app_context():
        create_user("bob", roles=("viewer",))
    response = auth.login("bob")
    assert response.status_code == 302
    with app.app_context():
        run = db.session.scalar(select(Run).where(Run.trigger == "login", Run.job_id == "uisp.refresh"))
    # The login has answered while its refresh is still queued or running.
    assert run is not None and get_run(app, run.id).status in ("queued", "running")
