"""Running the CRM bridge's cycle in tests, and reading its ledger."""
from sqlalchemy import func, select

from app.connectors.base.push_models import SyncRecord
from app.extensions import db
from app.runs.models import Run
from tests.conftest import wait_for
from tests.runs.helpers import queue

CYCLE = ("crm.dedupe_members", "crm.contacts", "crm.products", "crm.store_invoices", "crm.service_invoices",
         "crm.receipts")
ENDED = ("succeeded", "failed", "cancelled")


def cycle_runs(app, first_id):
    """{job_id: newest run} of the cycle started by run first_id (detached)."""
    with app.app_context():
        runs = db.session.scalars(select(Run).where(Run.job_id.in_(CYCLE), Run.id >= first_id).order_by(Run.id)).all()
        for run in runs:
            db.session.expunge(run)
    return {run.job_id: run for run in runs}


def run_cycle(app, timeout=180):
    """Queue the cycle's first step and wait until its last step ended, or a step did not succeed."""
    first_id, _ = queue(app, CYCLE[0])

    def ended():
        runs = cycle_runs(app, first_id)
        stopped = [r for r in runs.values() if r.status in ("failed", "cancelled")]
        last = runs.get(CYCLE[-1])
        return runs if stopped or (last is not None and last.status in ENDED) else None
    return wait_for(ended, timeout=timeout, interval=0.1, message="the CRM cycle to end")


def ledger(app, stream=None):
    """{(stream, source key): (status, target id, message)} of the crm ledger."""
    with app.app_context():
        query = select(SyncRecord).where(SyncRecord.connector == "crm")
        if stream:
            query = query.where(SyncRecord.stream == stream)
        return {(r.stream, r.source_key): (r.status, r.target_id, r.message) for r in db.session.scalars(query)}


def status_counts(app, stream):
    with app.app_context():
        return dict(db.session.execute(select(SyncRecord.status, func.count()).where(
            SyncRecord.connector == "crm", SyncRecord.stream == stream).group_by(SyncRecord.status)).all())
