"""What has run and what will: each job's last run, last success, recent durations and next fire.

Every page asks here, for all the jobs it shows in one query each, instead of a query per job.
"""
from datetime import timezone

from sqlalchemy import func, select

from .. import settings
from ..extensions import db
from .models import Run, Schedule
from .registry import find_job
from .schedules import ScheduleError, describe, next_fire_times


def _latest_per_job(condition, job_ids=None):
    """{job_id: Run} of the newest run per job matching condition."""
    latest = select(func.max(Run.id)).where(condition)
    if job_ids is not None:
        latest = latest.where(Run.job_id.in_(list(job_ids)))
    runs = db.session.scalars(select(Run).where(Run.id.in_(latest.group_by(Run.job_id)))).all()
    return {run.job_id: run for run in runs}


def last_runs(job_ids=None):
    """{job_id: its newest run, in flight or not}."""
    return _latest_per_job(Run.id.is_not(None), job_ids)


def last_finished(job_ids=None):
    """{job_id: its newest finished run}."""
    return _latest_per_job(Run.finished_at.is_not(None), job_ids)


def last_successes(job_ids=None):
    """{job_id: its newest succeeded run}."""
    return _latest_per_job(Run.status == "succeeded", job_ids)


def last_success_times(job_ids):
    """{job_id: when it last succeeded}; jobs that never did are absent."""
    rows = db.session.execute(select(Run.job_id, func.max(Run.finished_at))
                              .where(Run.job_id.in_(list(job_ids)), Run.status == "succeeded")
                              .group_by(Run.job_id)).all()
    return dict(rows)


def recent_durations(job_ids, length):
    """{job_id: durations in seconds of its last `length` finished runs, oldest first}."""
    rank = func.row_number().over(partition_by=Run.job_id, order_by=Run.id.desc()).label("rank")
    recent = (select(Run.job_id, Run.id, Run.started_at, Run.finished_at, rank)
              .where(Run.job_id.in_(list(job_ids)), Run.finished_at.is_not(None), Run.started_at.is_not(None))
              .subquery())
    rows = db.session.execute(select(recent.c.job_id, recent.c.started_at, recent.c.finished_at)
                              .where(recent.c.rank <= length).order_by(recent.c.job_id, recent.c.id)).all()
    durations = {job_id: [] for job_id in job_ids}
    for job_id, started, finished in rows:
        durations[job_id].append((finished - started).total_seconds())
    return durations


def next_fires(job_ids=None, values=None):
    """{job_id: (next fire as naive UTC, its cron)} over enabled schedules of jobs not disabled.

    A job with a default cron but no schedule row yet (no scheduler has started) fires by that cron.
    """
    values = values or settings.get_many()
    disabled = set(values["disabled_jobs"])
    query = select(Schedule)
    if job_ids is not None:
        query = query.where(Schedule.job_id.in_(list(job_ids)))
    by_job = {}
    for schedule in db.session.scalars(query):
        by_job.setdefault(schedule.job_id, []).append(schedule)
    wanted = job_ids if job_ids is not None else list(by_job)
    fires = {}
    for job_id in wanted:
        if job_id in disabled:
            continue
        soonest = _soonest(_crons(job_id, by_job.get(job_id)), values["business_timezone"])
        if soonest is not None:
            fires[job_id] = soonest
    return fires


def _crons(job_id, schedules):
    if schedules is not None:
        return [(s.cron, s.timezone) for s in schedules if s.enabled]
    job_def = find_job(job_id)
    return [(job_def.cron, "")] if job_def and job_def.cron else []


def _soonest(crons, business_tz):
    best = None
    for cron, tz_name in crons:
        try:
            upcoming = next_fire_times(cron, tz_name or business_tz, 1)
        except ScheduleError:
            continue
        if upcoming and (best is None or upcoming[0] < best[0]):
            best = (upcoming[0], cron)
    if best is None:
        return None
    return best[0].astimezone(timezone.utc).replace(tzinfo=None), best[1]


def next_fire(job_id, values=None):
    """{'next': UTC time, 'cron': …, 'words': the cron in words} of the job's soonest fire, or None."""
    found = next_fires([job_id], values).get(job_id)
    if found is None:
        return None
    return {"next": found[0].replace(tzinfo=timezone.utc), "cron": found[1], "words": describe(found[1])}
