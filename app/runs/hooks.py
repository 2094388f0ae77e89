"""What happens after a run ends: dependent jobs are queued, people are notified."""
import logging

from sqlalchemy import func, select

from ..extensions import db
from .models import Run
from .notifications import notify_run_finished, wants_notification
from .registry import dependents_of
from .service import enqueue, wake_executor

log = logging.getLogger(__name__)


def after_run_finished(app, run_id, job_id, status):
    """Queue dependents of a success and notify; costs no query when neither applies."""
    with app.app_context():
        if not (status == "succeeded" and dependents_of(job_id)) and not wants_notification(job_id, status):
            return
        run = db.session.get(Run, run_id)
        if run is None:
            return
        if run.status == "succeeded":
            enqueue_dependents(run)
            db.session.refresh(run)  # the commit above expired it
        db.session.expunge(run)
        # Notifications do network I/O: hold no transaction (on SQLite, no write lock) meanwhile.
        db.session.rollback()
        notify_run_finished(run)


def enqueue_dependents(run):
    """Queue each job that runs after this one, once all the jobs it waits for last succeeded."""
    queued = []
    for dependent in dependents_of(run.job_id):
        if all(_last_status(dep) == "succeeded" for dep in dependent.after if dep != run.job_id):
            new_run, _ = enqueue(dependent.id, {}, trigger="dependency",
                                 requested_by=f"after run {run.id}", parent_run_id=run.id)
            queued.append(new_run)
    if queued:
        db.session.commit()
        wake_executor()
    return queued


def _last_status(job_id):
    last_id = db.session.scalar(select(func.max(Run.id)).where(Run.job_id == job_id, Run.finished_at.is_not(None)))
    return db.session.scalar(select(Run.status).where(Run.id == last_id)) if last_id else None
