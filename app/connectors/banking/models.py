"""What Banking keeps: imported statement files, their lines (deduplicated by identity, with how each
credit was matched to a UISP customer), and bulk reconciliations with their per-invoice allocations.

Bank accounts themselves are connections (connector "banking", one per account, keyed by IBAN).
Whether a line's payment reached UISP is the push ledger's business (stream banking/payments, keyed
by the line's identity): see posting.py.
"""
from datetime import date, datetime
from decimal import Decimal
from typing import Optional

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ...db import utcnow
from ...extensions import db
from ...runs.models import BigId

Money = Numeric(14, 2)
IMPORT_STATUSES = ("accepted", "rejected")
# unmatched: no rule found a customer; review: a rule found more than one, or only part of the amount;
# matched: one customer (and the invoices the credit covers); ignored: an operator set it aside;
# bulk: the deposit of a bulk reconciliation (its invoices are paid by that, not by this line);
# debit: money out, which no customer paid (never matched nor posted).
MATCH_STATUSES = ("unmatched", "review", "matched", "ignored", "bulk", "debit")


class BankImport(db.Model):
    """One statement file offered for import: accepted whole (with its counts) or rejected whole (why)."""

    __tablename__ = "bank_imports"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    upload_sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    format: Mapped[str] = mapped_column(String(10), default="")
    account: Mapped[str] = mapped_column(String(64), default="")
    statement_ids: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="")
    lines_total: Mapped[int] = mapped_column(Integer, default=0)
    lines_new: Mapped[int] = mapped_column(Integer, default=0)
    lines_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    lines_rejected: Mapped[int] = mapped_column(Integer, default=0)
    run_id: Mapped[Optional[int]] = mapped_column(BigId)
    imported_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BankLine(db.Model):
    """One booked statement line, stored once however often its statement is imported."""

    __tablename__ = "bank_lines"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # SHA-256 of the account and the bank's id of the entry (or, without one, of its booking date,
    # amount, reference and its sequence among same-looking lines of that day): see identity.py.
    identity: Mapped[str] = mapped_column(String(64), unique=True)
    account: Mapped[str] = mapped_column(String(64))
    booking_date: Mapped[date] = mapped_column(Date)
    value_date: Mapped[Optional[date]] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    bank_reference: Mapped[str] = mapped_column(String(140), default="")
    end_to_end_id: Mapped[str] = mapped_column(String(140), default="")
    fitid: Mapped[str] = mapped_column(String(140), default="")
    reference: Mapped[str] = mapped_column(String(140), default="")
    name: Mapped[str] = mapped_column(String(300), default="")
    counterparty_account: Mapped[str] = mapped_column(String(64), default="")
    remittance: Mapped[str] = mapped_column(Text, default="")
    import_id: Mapped[int] = mapped_column(BigId)
    match_status: Mapped[str] = mapped_column(String(10), default="unmatched")
    match_rule: Mapped[str] = mapped_column(String(20), default="")
    client_id: Mapped[Optional[int]] = mapped_column(Integer)
    # The invoices the credit pays, [{"id", "number", "cents"}]; empty: UISP applies it oldest first.
    invoices: Mapped[list] = mapped_column(JSON, default=list)
    suggested_client_id: Mapped[Optional[int]] = mapped_column(Integer)
    suggestion_score: Mapped[Optional[int]] = mapped_column(Integer)
    match_note: Mapped[str] = mapped_column(Text, default="")
    matched_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_bank_lines_match", "match_status", "booking_date"),
        Index("ix_bank_lines_account_day", "account", "booking_date"),
    )

    @property
    def is_credit(self):
        return self.amount > 0


# draft: built and validated, not started; posting: a run is at it; succeeded: every invoice paid;
# rolled_back: it failed or was terminated and every payment it made is deleted again;
# rollback_incomplete: some payments could not be deleted yet (listed; Roll back retries).
RECON_STATUSES = ("draft", "posting", "succeeded", "rolled_back", "rollback_incomplete")


class BulkReconciliation(db.Model):
    """One deposit allocated over many open invoices (of one client or many), posted all or nothing."""

    __tablename__ = "bank_reconciliations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(BigId, ForeignKey("bank_lines.id"), unique=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    reason: Mapped[str] = mapped_column(Text, default="")
    invoices_total: Mapped[int] = mapped_column(Integer, default=0)
    posted_count: Mapped[int] = mapped_column(Integer, default=0)
    deleted_count: Mapped[int] = mapped_column(Integer, default=0)
    run_id: Mapped[Optional[int]] = mapped_column(BigId)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# planned: not sent; sending: a request is (or was, when a run died) in flight; posted: UISP holds its
# payment; deleted: rolled back; every state change is committed before the next call.
ALLOCATION_STATUSES = ("planned", "sending", "posted", "deleted")


class BulkAllocation(db.Model):
    """One invoice's share of a bulk deposit, and the UISP payment that paid it (while it exists)."""

    __tablename__ = "bank_allocations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reconciliation_id: Mapped[int] = mapped_column(BigId, ForeignKey("bank_reconciliations.id"))
    position: Mapped[int] = mapped_column(Integer)
    invoice_id: Mapped[int] = mapped_column(Integer)
    invoice_number: Mapped[str] = mapped_column(String(100), default="")
    client_id: Mapped[int] = mapped_column(Integer)
    cents: Mapped[int] = mapped_column(Integer)
    # Sent as UISP's providerPaymentId: a payment whose answer was lost is found by it, not sent again.
    provider_payment_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="planned")
    payment_id: Mapped[Optional[int]] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_bank_allocations_recon", "reconciliation_id", "position"),)
