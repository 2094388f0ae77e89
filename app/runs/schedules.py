"""Create, edit and validate schedules; every change bumps the row's version for the schedulers."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from cron_descriptor import ExpressionDescriptor, Options
from sqlalchemy import select

from ..db import utcnow
from ..extensions import db
from .. import settings
from .models import Schedule
from .registry import JobError, get_job, parse_params
from .cron import make_trigger

MAX_NAME = 100
MAX_CRON = 100


class ScheduleError(ValueError):
    """A schedule is invalid; the message is shown to the user."""


def validate_cron(cron, tz_name=""):
    """Return the CronTrigger for a five-field cron in tz, or raise ScheduleError."""
    cron = (cron or "").strip()
    if len(cron) > MAX_CRON or len(cron.split()) not in (5, 6):
        raise ScheduleError("Cron must have five fields (minute hour day month weekday), "
                            f"or six with seconds first; got {cron[:MAX_CRON]!r}")
    try:
        return make_trigger(cron, tz_name or settings.get("business_timezone"))
    except (ValueError, KeyError) as exc:
        raise ScheduleError(f"Invalid cron {cron!r}: {exc}") from None


def describe(cron):
    """The cron in words, e.g. 'At 02:00'."""
    try:
        options = Options()
        options.use_24hour_time_format = True
        return ExpressionDescriptor(cron, options).get_description()
    except Exception:  # cron_descriptor raises several types; a description is never worth a 500
        return cron


def next_fire_times(cron, tz_name="", count=3):
    trigger = validate_cron(cron, tz_name)
    times, previous = [], None
    now = datetime.now(timezone.utc)
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, previous or now)
        if fire is None:
            break
        times.append(fire)
        previous = fire
    return times


def _check_timezone(tz_name):
    if tz_name:
        try:
            ZoneInfo(tz_name)
        except (KeyError, ValueError):
            raise ScheduleError(f"Unknown timezone: {tz_name!r}") from None
    return tz_name


def save(schedule: Schedule | None, *, job_id, cron, tz_name="", name="", enabled=True, params=None):
    """Validate and stage a new or changed schedule (the caller commits)."""
    try:
        job_def = get_job(job_id)
        parsed = parse_params(job_def, params or {})
    except JobError as exc:
        raise ScheduleError(str(exc)) from None
    if len(name or "") > MAX_NAME:
        raise ScheduleError(f"Name is longer than {MAX_NAME} characters")
    tz_name = _check_timezone((tz_name or "").strip())
    validate_cron(cron, tz_name)
    if schedule is None:
        schedule = Schedule(system=False, version=0)
        db.session.add(schedule)
    elif schedule.system and schedule.job_id != job_id:
        raise ScheduleError("A system schedule's job cannot be changed")
    schedule.job_id, schedule.cron, schedule.timezone = job_id, cron.strip(), tz_name
    schedule.name, schedule.enabled, schedule.params = (name or "").strip(), bool(enabled), parsed
    touch(schedule)
    return schedule


def touch(schedule):
    schedule.version = (schedule.version or 0) + 1
    schedule.updated_at = utcnow()


def delete(schedule: Schedule):
    if schedule.system:
        raise ScheduleError("System schedules cannot be deleted; disable them instead")
    db.session.delete(schedule)


def schedules_for(job_id=None):
    query = select(Schedule).order_by(Schedule.job_id, Schedule.id)
    if job_id:
        query = query.where(Schedule.job_id == job_id)
    return db.session.scalars(query).all()
