"""Enqueue and cancel runs: the single entry point every trigger goes through."""
import json
import logging

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..db import utcnow
from ..extensions import db
from .models import ACTIVE, Run
from .registry import get_job, parse_params

log = logging.getLogger(__name__)


def params_key(params):
    return json.dumps(params or {}, sort_keys=True, separators=(",", ":"), default=str)


def enqueue(job_id, params=None, *, trigger, requested_by="", schedule_id=None,
            parent_run_id=None, raw_params=True):
    """Queue a run, or return the run of the same job and params already in flight.

    Returns (run, created). The caller commits; the database's partial unique
    index makes two concurrent callers end up with the same run.
    """
    job_def = get_job(job_id)
    params = parse_params(job_def, params or {}) if raw_params else (params or {})
    key = params_key(params)
    for _ in range(5):
        try:
            with db.session.begin_nested():
                run = Run(job_id=job_id, params=params, params_key=key, lock_key=job_def.lock_key_for(params),
                          trigger=trigger, requested_by=requested_by or "", schedule_id=schedule_id,
                          parent_run_id=parent_run_id, status="queued", queued_at=utcnow())
                db.session.add(run)
            return run, True
        except IntegrityError:
            in_flight = find_in_flight(job_id, key)
            if in_flight is not None:
                return in_flight, False
            # It finished between our insert and our look: try again.
    raise RuntimeError(f"could not enqueue {job_id}: in-flight run kept changing")


def find_in_flight(job_id, key="{}"):
    return db.session.scalar(
        select(Run).where(Run.job_id == job_id, Run.params_key == key, Run.status.in_(ACTIVE))
        .execution_options(populate_existing=True)
    )


def cancel(run: Run, username):
    """Ask a run to stop: a queued run ends at once, a running one at its next check.

    False if it had already ended; the conditional UPDATEs decide, not the status we last read.
    """
    ended_queued = db.session.execute(
        update(Run).where(Run.id == run.id, Run.status == "queued")
        .values(status="cancelled", reason=f"cancelled by {username}",
                cancel_requested_by=username, finished_at=utcnow())
    ).rowcount
    flagged_running = ended_queued or db.session.execute(
        update(Run).where(Run.id == run.id, Run.status == "running").values(cancel_requested_by=username)
    ).rowcount
    return bool(flagged_running)


def wake_executor():
    """Tell this process's executor (if any) that work was queued, instead of waiting a poll."""
    executor = current_app.extensions.get("syncdeck_executor")
    if executor is not None:
        executor.wake()
