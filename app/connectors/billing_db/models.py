"""The bill-stop cache: one batch log row per batch, and its summary (per CRP) and details (per CPC).

A batch's rows are written while its log row says `running`; pages show only the latest
`completed` batch of each date, so a batch that fails or is cancelled is never seen, and its rows
are deleted before it is marked so. No foreign key ties rows to their batch: batch.py deletes
them explicitly, and checking a key for each of a million loaded rows cost ~7 s per batch. On
PostgreSQL the details are partitioned by batch, so deleting a batch's rows is dropping a table.
"""
from datetime import date, datetime
from decimal import Decimal
from typing import Optional

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ...extensions import db
from ...runs.models import BigId

BILL_STOP = "Bill Stop"
ACTIVE_BILLING = "Active Billing"
NO_ACTIVE_SA = "No Active SA"
BILLING_STATUSES = (BILL_STOP, ACTIVE_BILLING, NO_ACTIVE_SA)


class BillStopBatch(db.Model):
    """The batch log: one row per batch run (seed 001's bill_stop_batch_log)."""

    __tablename__ = "billing_batches"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_date: Mapped[date] = mapped_column(Date, index=True)
    run_id: Mapped[Optional[int]] = mapped_column(BigInteger)
    # running → completed | failed | cancelled | superseded (a later batch of the same date)
    status: Mapped[str] = mapped_column(String(20), default="running")
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime]
    finished_at: Mapped[Optional[datetime]]
    summary_count: Mapped[int] = mapped_column(Integer, default=0)
    details_count: Mapped[int] = mapped_column(Integer, default=0)
    bill_stop_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")

    @property
    def duration_seconds(self):
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class BillStopSummary(db.Model):
    __tablename__ = "billing_bill_stop_summary"
    batch_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crp_account_no: Mapped[str] = mapped_column(String(50), primary_key=True)
    total_cpc_count: Mapped[int] = mapped_column(Integer)
    bill_stop_count: Mapped[int] = mapped_column(Integer)
    active_billing_count: Mapped[int] = mapped_column(Integer)
    bill_stop_percentage: Mapped[Decimal] = mapped_column(Numeric(5, 2))

    __table_args__ = (Index("ix_billing_summary_batch_stops", "batch_id", "bill_stop_count"),)


class BillStopDetail(db.Model):
    __tablename__ = "billing_bill_stop_details"
    batch_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cpc_customer_no: Mapped[str] = mapped_column(String(50), primary_key=True)
    crp_account_no: Mapped[str] = mapped_column(String(50))
    legacy_no: Mapped[Optional[str]] = mapped_column(String(50))
    customer_name: Mapped[Optional[str]] = mapped_column(String(255))
    address: Mapped[Optional[str]] = mapped_column(Text)
    last_bill_date: Mapped[Optional[date]] = mapped_column(Date)
    billing_status: Mapped[str] = mapped_column(String(20))
    is_bill_stop: Mapped[bool] = mapped_column(Boolean)
    current_balance: Mapped[Decimal] = mapped_column(Numeric(15, 2))

    # The details page's default order (bill stops first, read backwards) is an index walk, not a sort of 1M rows.
    # On PostgreSQL each batch is a partition (batch.py): loaded bare, indexed, then attached.
    __table_args__ = (Index("ix_billing_details_batch_crp", "batch_id", "crp_account_no"),
                      Index("ix_billing_details_batch_status", "batch_id", "billing_status"),
                      Index("ix_billing_details_batch_stop_cpc", "batch_id", "is_bill_stop", "cpc_customer_no"),
                      {"postgresql_partition_by": "LIST (batch_id)"})
