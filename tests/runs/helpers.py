"""Small helpers for engine tests."""
import os
import socket
from datetime import timedelta

from sqlalchemy import func, select

from app.db import utcnow
from app.extensions import db
from app.runs import lock
from app.runs.models import Run, RunLog
from app.runs.service import enqueue
from tests.conftest import wait_for


def queue(app, job_id, params=None, trigger="manual"):
    with app.app_context():
        run, created = enqueue(job_id, params or {}, trigger=trigger, requested_by="tester")
        db.session.commit()
        return run.id, created


def get_run(app, run_id):
    with app.app_context():
        run = db.session.get(Run, run_id)
        db.session.expunge(run)
        return run


def wait_status(app, run_id, *statuses, timeout=15):
    return wait_for(lambda: get_run(app, run_id).status in statuses and get_run(app, run_id),
                    timeout=timeout, message=f"run {run_id} to reach {statuses}")


def latest_run(app, job_id):
    """The newest run of job_id (detached), or None."""
    with app.app_context():
        run = db.session.scalars(select(Run).where(Run.job_id == job_id).order_by(Run.id.desc()).limit(1)).first()
        if run is not None:
            db.session.expunge(run)
        return run


def log_messages(app, run_id):
    with app.app_context():
        return list(db.session.scalars(select(RunLog.message).where(RunLog.run_id == run_id).order_by(RunLog.seq)))


def count_runs(app, **filters):
    with app.app_context():
        query = select(func.count(Run.id))
        for key, value in filters.items():
            query = query.where(getattr(Run, key) == value)
        return db.session.scalar(query)


def run_job(app, job_id, params=None, timeout=60):
    """Queue a job, let the running executor take it, and return the finished run."""
    run_id, _ = queue(app, job_id, params)
    return wait_status(app, run_id, "succeeded", "failed", "cancelled", timeout=timeout)


def held_lock_with_waiters(app, waited_seconds):
    """A live run holding lock "tests.shared", and two runs queued behind it for `waited_seconds`:
    tests.timeout (a 0.5 s time limit) and tests.shared_b (an hour). Returns (holder, short, long) ids."""
    now = utcnow()
    queued_at = now - timedelta(seconds=waited_seconds)

    def run(job_id, status, at):
        return Run(job_id=job_id, lock_key="tests.shared", trigger="manual", status=status, params={},
                   params_key=f'{{"job":"{job_id}"}}', queued_at=at)
    with app.app_context():
        holder = run("tests.shared_a", "running", now)
        holder.started_at = holder.heartbeat_at = now
        holder.host, holder.pid = socket.gethostname(), os.getpid()  # alive: not a lost run
        short, long = run("tests.timeout", "queued", queued_at), run("tests.shared_b", "queued", queued_at)
        db.session.add_all([holder, short, long])
        db.session.flush()
        ids = holder.id, short.id, long.id
        db.session.commit()
        db.session.remove()  # SQLite: no session transaction left to hold the write lock
        with db.engine.begin() as conn:
            assert lock.acquire(conn, "tests.shared", ids[0], "elsewhere:1")
        return ids
