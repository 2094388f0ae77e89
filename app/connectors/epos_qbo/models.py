"""What EPOS→QBO keeps in our database. Companies themselves are connections (connector "epos_qbo",
one per company: EPOS credentials, QBO realm and tokens, per-company settings)."""
from datetime import date, datetime
from decimal import Decimal
from typing import Optional

from sqlalchemy import Date, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ...db import utcnow
from ...extensions import db
from ...runs.models import BigId

Money = Numeric(14, 2)
RECEIPT_STATUSES = ("pending", "synced", "failed")


class EposQboReceipt(db.Model):
    """One EPOS transaction and the QBO receipt it became: the ledger that makes posting exactly-once.

    A row is written `pending` with its request id (owned by the run that wrote it) before the call;
    a rerun finds a pending row of a run that ended and looks its DocNumber up in QBO before it
    would post it again.
    """

    __tablename__ = "epos_qbo_receipts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    company: Mapped[str] = mapped_column(String(64))
    epos_id: Mapped[str] = mapped_column(String(40))
    trading_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))  # SalesReceipt | RefundReceipt
    doc_number: Mapped[str] = mapped_column(String(21))
    amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    qbo_id: Mapped[str] = mapped_column(String(40), default="")
    request_id: Mapped[str] = mapped_column(String(50), default="")
    run_id: Mapped[Optional[int]] = mapped_column(BigId)
    message: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("uq_epos_qbo_receipts_txn", "company", "epos_id", unique=True),
        Index("ix_epos_qbo_receipts_day", "company", "trading_date", "status"),
    )


class EposQboReconciliation(db.Model):
    """One run's artifact for one company and trading date: what it posted and how EPOS and QBO compare.

    A rerun adds a row; pages take the latest per (company, trading date).
    """

    __tablename__ = "epos_qbo_reconciliations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    company: Mapped[str] = mapped_column(String(64))
    trading_date: Mapped[date] = mapped_column(Date)
    run_id: Mapped[Optional[int]] = mapped_column(BigId)
    succeeded: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(10), default="")  # MATCH | MISMATCH | "" (not reconciled)
    epos_total: Mapped[Optional[Decimal]] = mapped_column(Money)
    qbo_total: Mapped[Optional[Decimal]] = mapped_column(Money)
    difference: Mapped[Optional[Decimal]] = mapped_column(Money)
    epos_count: Mapped[int] = mapped_column(Integer, default=0)
    receipts_created: Mapped[int] = mapped_column(Integer, default=0)
    receipts_existing: Mapped[int] = mapped_column(Integer, default=0)
    receipts_failed: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[Optional[float]]
    message: Mapped[str] = mapped_column(Text, default="")
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_epos_qbo_recon_day", "company", "trading_date", "processed_at"),)
