"""The UISP cache: customers, services, invoices, payments and their covers, payment patterns.

Money is stored in integer cents (exact, and fast to bulk-load); dates the source sends as
datetimes at midnight are kept as dates. No foreign keys between cache tables: the source is
the authority, and a payment may arrive for a client we have not seen (or for no client at all).
Each cache table has a staging twin (``uisp_stage_*``) that a refresh fills page by page and
then merges in one transaction, so a refresh that fails half-way leaves the cache untouched.
"""
from datetime import date, datetime
from enum import IntEnum
from typing import Optional

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Float, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from ...extensions import db

class ServiceStatus(IntEnum):
    """UISP's service statuses (GET /clients/services `status`)."""

    PREPARED = 0
    ACTIVE = 1
    ENDED = 2
    SUSPENDED = 3
    PREPARED_BLOCKED = 4
    OBSOLETE = 5
    DEFERRED = 6
    QUOTED = 7
    INACTIVE = 8


class InvoiceStatus(IntEnum):
    """UISP's invoice statuses (GET /invoices `status`)."""

    DRAFT = 0
    UNPAID = 1
    PARTIALLY_PAID = 2
    PAID = 3
    VOID = 4
    PROCESSED_PROFORMA = 5


def _label(status):
    return status.name.replace("_", " ").capitalize()


SERVICE_STATUSES = {s.value: _label(s) for s in ServiceStatus}
INVOICE_STATUSES = {s.value: _label(s) for s in InvoiceStatus}
# Invoices that are real debts: drafts, voids and processed proformas are not.
BILLABLE_INVOICE_STATUSES = (InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID)
# Invoices something may still be owed on.
OPEN_INVOICE_STATUSES = (InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID)


class Customer(db.Model):
    __tablename__ = "uisp_customers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    user_ident: Mapped[Optional[str]] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(300))
    first_name: Mapped[Optional[str]] = mapped_column(String(150))
    last_name: Mapped[Optional[str]] = mapped_column(String(150))
    company_name: Mapped[Optional[str]] = mapped_column(String(300))
    client_type: Mapped[int] = mapped_column(Integer, default=1)
    # Account status (archived at the source) — not the status of any service.
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)
    # UISP's isActive: client-zone access, also not a service status.
    client_zone_active: Mapped[bool] = mapped_column(Boolean, default=False)
    balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    credit_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    outstanding_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    has_overdue_invoice: Mapped[bool] = mapped_column(Boolean, default=False)
    has_suspended_service: Mapped[bool] = mapped_column(Boolean, default=False)
    is_vip: Mapped[bool] = mapped_column(Boolean, default=False)
    # Day of the month by which this customer may pay before suspension (custom attribute).
    grace_payment_day: Mapped[Optional[int]] = mapped_column(Integer)
    email: Mapped[Optional[str]] = mapped_column(String(300))
    phone: Mapped[Optional[str]] = mapped_column(String(100))
    address: Mapped[Optional[str]] = mapped_column(String(500))
    registration_date: Mapped[Optional[date]] = mapped_column(Date)
    currency: Mapped[Optional[str]] = mapped_column(String(3))


class Service(db.Model):
    __tablename__ = "uisp_services"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    client_id: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(300))
    status: Mapped[int] = mapped_column(Integer)
    price_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    total_price_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    active_from: Mapped[Optional[date]] = mapped_column(Date)
    active_to: Mapped[Optional[date]] = mapped_column(Date)
    # Start of the open suspension period, if the service is suspended now.
    suspended_since: Mapped[Optional[date]] = mapped_column(Date)


class Invoice(db.Model):
    __tablename__ = "uisp_invoices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    client_id: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(100))
    created_date: Mapped[Optional[date]] = mapped_column(Date)
    due_date: Mapped[Optional[date]] = mapped_column(Date)
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # UISP's amountToPay: what is still owed. Paid or not is decided by this, never by a status guess.
    remaining_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_uisp_invoices_client_due", "client_id", "due_date"),)

    @property
    def is_paid(self):
        return self.remaining_cents <= 0 and self.status in BILLABLE_INVOICE_STATUSES


class Payment(db.Model):
    __tablename__ = "uisp_payments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    client_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    amount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    credit_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    method_id: Mapped[Optional[str]] = mapped_column(String(64))
    note: Mapped[Optional[str]] = mapped_column(Text)
    provider_name: Mapped[Optional[str]] = mapped_column(String(200))
    provider_payment_id: Mapped[Optional[str]] = mapped_column(String(200))


class PaymentCover(db.Model):
    """One payment's share applied to one invoice (UISP paymentCovers)."""

    __tablename__ = "uisp_payment_covers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    payment_id: Mapped[int] = mapped_column(Integer, index=True)
    invoice_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class PaymentPattern(db.Model):
    """How a customer pays, derived from its invoices and the payments that covered them (see patterns.py)."""

    __tablename__ = "uisp_payment_patterns"
    client_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    on_time_count: Mapped[int] = mapped_column(Integer, default=0)
    late_count: Mapped[int] = mapped_column(Integer, default=0)
    missed_count: Mapped[int] = mapped_column(Integer, default=0)
    avg_days_late: Mapped[float] = mapped_column(Float, default=0.0)
    avg_payment_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    last_payment_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    is_risky: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


CACHE_TABLES = (Customer.__table__, Service.__table__, Invoice.__table__, Payment.__table__,
                PaymentCover.__table__)


def _staging_twin(table):
    """A table with the same columns (no keys, no indexes) plus the run that staged each row."""
    name = table.name.replace("uisp_", "uisp_stage_", 1)
    columns = [Column(c.name, c.type, nullable=True) for c in table.columns]
    # (run_id, id) serves both the merge's joins and clearing one run's rows.
    return Table(name, db.metadata, Column("run_id", BigInteger, nullable=False), *columns,
                 Index(f"ix_{name}_run_id_id", "run_id", "id"))


STAGING = {table.name: _staging_twin(table) for table in CACHE_TABLES}
