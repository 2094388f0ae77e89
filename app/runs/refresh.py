"""The global Refresh Data button and refresh on login: enqueue only, never run inline."""
import logging
from datetime import timedelta

from flask_login import user_logged_in

from .. import settings
from ..db import utcnow
from ..extensions import db
from .history import last_success_times
from .registry import all_jobs, find_job, get_job, parse_params
from .service import enqueue, find_in_flight, params_key, wake_executor

log = logging.getLogger(__name__)


def global_refresh_job_ids():
    chosen = settings.get("global_refresh_jobs")
    if chosen is None:
        return [j.id for j in all_jobs() if j.refresh]
    return [job_id for job_id in chosen if find_job(job_id)]


def start_global_refresh(trigger, username):
    """Enqueue every global-refresh job (or join its run in flight); the caller commits."""
    return [enqueue(job_id, {}, trigger=trigger, requested_by=username) for job_id in global_refresh_job_ids()]


def in_flight_refresh_runs():
    """The global refresh's runs now queued or running (refresh runs use each job's default params)."""
    runs = [find_in_flight(job_id, params_key(parse_params(get_job(job_id), {})))
            for job_id in global_refresh_job_ids()]
    return [run for run in runs if run is not None]


def refresh_on_login(user):
    """Enqueue the global refresh if its data is older than the Settings threshold; never raise."""
    try:
        minutes = settings.get("refresh_on_login_minutes")
        job_ids = global_refresh_job_ids()
        if not minutes or not job_ids:
            return []
        cutoff = utcnow() - timedelta(minutes=minutes)
        last = last_success_times(job_ids)
        stale = [j for j in job_ids if last.get(j) is None or last[j] < cutoff]
        runs = [enqueue(j, {}, trigger="login", requested_by=user.username)[0] for j in stale]
        db.session.commit()
        if runs:
            wake_executor()
        return runs
    except Exception:  # the login itself must succeed whatever happens here
        db.session.rollback()
        log.exception("refresh on login failed user=%s", user.username)
        return []


@user_logged_in.connect
def _refresh_after_login(_app, user, **_extra):
    """Flask-Login sends this from login_user(): a login may queue the refresh, and never waits for it."""
    refresh_on_login(user)
