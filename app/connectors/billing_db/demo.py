"""The Billing DB part of `flask demo setup`: queue a first batch so Bill Stop Analysis is full on first visit."""
from datetime import date
from pathlib import Path

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


def seed_arguments(instance_dir):
    """`python` arguments that seed the demo's fake CC&B, or None when today's seed is there.

    The fake is seeded for "this month", so it is seeded again on another day (~10 s for 20,000 CPCs).
    """
    path = Path(instance_dir).resolve() / "billing_demo.db"
    if path.exists() and date.fromtimestamp(path.stat().st_mtime) == date.today():
        return None
    return ("-m", "app.fakes.billing", "--url", f"sqlite:///{path}", "--crps", "200", "--cpcs", "20000")
