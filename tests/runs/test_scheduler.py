"""Schedules: reconcile by id, one run per fire, cron validation and words."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.runs.cron import crontab_weekdays, make_trigger
from app.runs.models import Run, Schedule, ScheduleFire
from app.runs.scheduler import PREFIX, SchedulerService, ensure_system_schedules, plan_reconcile, record_fire
from app.runs.schedules import ScheduleError, describe, next_fire_times, save


def test_plan_reconcile_adds_reschedules_removes_and_keeps():
    current = {"a": ("0 1 * * *", "UTC"), "b": ("0 2 * * *", "UTC"), "c": ("0 3 * * *", "UTC")}
    desired = {"a": ("0 1 * * *", "UTC"), "b": ("5 2 * * *", "UTC"), "d": ("0 4 * * *", "UTC")}
    plan = plan_reconcile(current, desired)
    assert (plan.add, plan.reschedule, plan.remove, plan.unchanged) == (["d"], ["b"], ["c"], ["a"])


def test_plan_reconcile_timezone_change_reschedules():
    plan = plan_reconcile({"a": ("0 1 * * *", "UTC")}, {"a": ("0 1 * * *", "Africa/Johannesburg")})
    assert plan.reschedule == ["a"]


def _scheduler_jobs(service):
    return {job.id: str(job.trigger) for job in service.scheduler.get_jobs()}


@pytest.fixture
def service(app):
    """A scheduler that never fires (paused): these tests look at what it holds."""
    scheduler = SchedulerService(app)
    scheduler.scheduler.start(paused=True)
    yield scheduler
    scheduler.scheduler.shutdown(wait=False)


def test_scheduler_follows_the_schedules_table(app, service):
    with app.app_context():
        schedule = save(None, job_id="tests.noop", cron="0 2 * * *")
        db.session.commit()
        key = f"{PREFIX}{schedule.id}"
        plan = service.reconcile()
        assert plan.add == [key] and "hour='2'" in _scheduler_jobs(service)[key]

        assert service.reconcile().unchanged == [key]

        save(schedule, job_id="tests.noop", cron="30 4 * * 1-5")
        db.session.commit()
        plan = service.reconcile()
        assert plan.reschedule == [key]
        assert "day_of_week='mon,tue,wed,thu,fri'" in _scheduler_jobs(service)[key]

        schedule.enabled = False
        db.session.commit()
        assert service.reconcile().remove == [key] and key not in _scheduler_jobs(service)

        schedule.enabled = True
        db.session.commit()
        assert service.reconcile().add == [key]

        from app import settings
        settings.put("disabled_jobs", ["tests.noop"])
        db.session.commit()
        assert service.reconcile().remove == [key], "a disabled job's schedules do not fire"
        settings.put("disabled_jobs", [])
        db.session.commit()
        service.reconcile()

        db.session.delete(db.session.get(Schedule, schedule.id))
        db.session.commit()
        assert service.reconcile().remove == [key] and not _scheduler_jobs(service)


def test_business_timezone_change_reschedules_schedules_without_their_own(app, service):
    with app.app_context():
        schedule = save(None, job_id="tests.noop", cron="0 2 * * *")
        db.session.commit()
        service.reconcile()
        from app import settings
        settings.put("business_timezone", "Asia/Dhaka")
        db.session.commit()
        assert service.reconcile().reschedule == [f"{PREFIX}{schedule.id}"]
        assert "Asia/Dhaka" in str(service.scheduler.get_job(f"{PREFIX}{schedule.id}").trigger.timezone)


def test_a_fire_recorded_twice_makes_one_run(app):
    with app.app_context():
        schedule = save(None, job_id="tests.noop", cron="* * * * *")
        db.session.commit()
        fire_time = datetime(2026, 11, 21, 2, 0)
        first = record_fire(schedule.id, fire_time)
        second = record_fire(schedule.id, fire_time)
        assert first is not None and second is None
        assert db.session.scalar(select(func.count()).select_from(ScheduleFire)) == 1
        run = db.session.scalar(select(Run))
        assert (run.trigger, run.schedule_id) == ("schedule", schedule.id)
        assert db.session.get(ScheduleFire, (schedule.id, fire_time)).run_id == run.id


def test_a_fire_while_the_job_is_in_flight_is_answered_by_that_run(app):
    with app.app_context():
        schedule = save(None, job_id="tests.noop", cron="* * * * *")
        db.session.commit()
        first = record_fire(schedule.id, datetime(2026, 11, 21, 2, 0))
        second = record_fire(schedule.id, datetime(2026, 11, 21, 2, 1))
        assert first.id == second.id
        fires = db.session.scalars(select(ScheduleFire)).all()
        assert [f.run_id for f in fires] == [first.id, first.id]


def test_system_schedules_are_created_once(app):
    with app.app_context():
        ensure_system_schedules()
        ensure_system_schedules()
        system = db.session.scalars(select(Schedule).where(Schedule.system.is_(True))).all()
        assert sorted(s.job_id for s in system) == ["system.check_freshness", "system.purge", "system.reconcile_runs"]


@pytest.mark.parametrize("cron, weekday", [("0 9 * * 0", "Sunday"), ("0 9 * * 7", "Sunday"),
                                           ("0 9 * * 1", "Monday"), ("0 9 * * 6", "Saturday"),
                                           ("0 9 * * sun", "Sunday")])
def test_cron_weekdays_mean_what_cron_means(cron, weekday):
    saturday = datetime(2026, 11, 21, 10, tzinfo=timezone.utc)
    fire = make_trigger(cron, "UTC").get_next_fire_time(None, saturday)
    assert fire.strftime("%A") == weekday


def test_weekday_steps_and_ranges_expand_exactly():
    assert crontab_weekdays("*/2") == "sun,tue,thu,sat"
    assert crontab_weekdays("1-5") == "mon,tue,wed,thu,fri"
    assert crontab_weekdays("5-7") == "fri,sat,sun"


def test_six_field_cron_has_seconds_first():
    trigger = make_trigger("*/15 * * * * *", "UTC")
    start = datetime(2026, 11, 21, 10, 0, 1, tzinfo=timezone.utc)
    assert trigger.get_next_fire_time(None, start).second == 15


def test_next_fire_times_and_words(app):
    with app.app_context():
        times = next_fire_times("0 2 * * *", "Asia/Dhaka", 3)
        assert len(times) == 3 and all(t.hour == 2 for t in times)
        assert times[1] > times[0]
    assert describe("0 2 * * *") == "At 02:00"


@pytest.mark.parametrize("cron", ["", "* * *", "61 * * * *", "* 25 * * *", "* * * * 9", "a b c d e",
                                  "* * * * * * *", "x" * 300])
def test_malformed_cron_is_refused(app, cron):
    with app.app_context(), pytest.raises(ScheduleError):
        save(None, job_id="tests.noop", cron=cron)
