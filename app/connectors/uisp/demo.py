"""The UISP part of `flask demo setup`: queue a first refresh so the pages fill as soon as the server runs."""
from sqlalchemy import select

from ...extensions import db
from ...runs.models import Run
from ...runs.service import enqueue


def queue_first_refresh():
    """Queue uisp.refresh unless it has already succeeded once (the scheduler keeps it fresh after)."""
    done = db.session.scalar(select(Run.id).where(Run.job_id == "uisp.refresh", Run.status == "succeeded").limit(1))
    if done is None:
        enqueue("uisp.refresh", {}, trigger="cli", requested_by="demo")
        db.session.commit()
