"""The Billing DB part of `flask demo setup`: queue a first batch so Bill Stop Analysis is full on first visit."""
from sqlalchemy import select

from ...extensions import db
from ...runs.service import enqueue
from .models import BillStopBatch


def queue_first_batch():
    """Queue billing.bill_stop_batch unless a batch has already completed."""
    done = db.session.scalar(select(BillStopBatch.id).where(BillStopBatch.status == "completed").limit(1))
    if done is None:
        enqueue("billing.bill_stop_batch", {}, trigger="cli", requested_by="demo")
        db.session.commit()
