"""Small helpers for engine tests."""
from sqlalchemy import func, select

from app.extensions import db
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
