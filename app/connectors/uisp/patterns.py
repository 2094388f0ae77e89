"""Payment patterns: how each customer pays, derived in SQL from invoices and the payments that covered them.

The rule, per invoice that is a real debt (status unpaid, partially paid or paid — drafts, voids and
processed proformas are skipped) and has a due date:

- **on time**: nothing remains to pay (`amountToPay` = 0) and the last payment covering it was made
  on or before the due date — or no payment covered it (settled by credit or a credit note);
- **late**: nothing remains to pay, but the last covering payment came after the due date; its days
  late are that payment's date minus the due date;
- **missed**: something remains to pay and the due date has passed (before today, business time);
- an open invoice not yet due counts nowhere.

Paid or not is decided by the remaining amount, never by the invoice's status field. A customer is
**risky** when missed ≥ `uisp_risky_missed`, or late ≥ `uisp_risky_late`, or the average days late
> `uisp_risky_avg_days_late` (Settings; 2, 3 and 30 by default).
"""
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Float, and_, case, cast, func, literal, or_, select

from ... import settings
from ..base import SettingSpec
from ...db import days_between
from .models import BILLABLE_INVOICE_STATUSES, Customer, Invoice, Payment, PaymentCover, PaymentPattern

RISK_SETTINGS = tuple(
    SettingSpec(key, default, settings.int_range(0, 3650, label), label, help_text)
    for key, default, label, help_text in (
        ("uisp_risky_missed", 2, "Risky: missed invoices ≥", "A customer with this many missed invoices is risky."),
        ("uisp_risky_late", 3, "Risky: late payments ≥", "A customer with this many late payments is risky."),
        ("uisp_risky_avg_days_late", 30, "Risky: average days late >", "Average days late above this is risky."),
    )
)


def business_today():
    return datetime.now(ZoneInfo(settings.cached("business_timezone"))).date()


def risk_thresholds():
    # Read through the cache, which ends its own transaction: on SQLite a read left open
    # in a job thread would hold the write lock the refresh is about to need.
    return {spec.key: settings.cached(spec.key) for spec in RISK_SETTINGS}


def _graded_invoices(today, client_id=None):
    """One row per counted invoice: client, on_time/late/missed flags and days late."""
    t = Invoice.__table__
    paid_at = (select(PaymentCover.invoice_id.label("invoice_id"), func.max(Payment.created_at).label("paid_at"))
               .join(Payment, Payment.id == PaymentCover.payment_id)
               .group_by(PaymentCover.invoice_id).subquery("paid_at"))
    settled = t.c.remaining_cents <= 0
    days = days_between(paid_at.c.paid_at, t.c.due_date)
    late = and_(settled, paid_at.c.paid_at.is_not(None), days > 0)
    query = (select(t.c.client_id,
                    case((and_(settled, or_(paid_at.c.paid_at.is_(None), days <= 0)), 1), else_=0).label("on_time"),
                    case((late, 1), else_=0).label("late"),
                    case((late, days)).label("days_late"),
                    case((and_(~settled, t.c.due_date < today), 1), else_=0).label("missed"))
             .select_from(t.outerjoin(paid_at, paid_at.c.invoice_id == t.c.id))
             .where(t.c.status.in_(BILLABLE_INVOICE_STATUSES), t.c.due_date.is_not(None)))
    if client_id is not None:
        query = query.where(t.c.client_id == client_id)
    return query.subquery("graded")


def _pattern_select(today, thresholds, client_id=None):
    graded = _graded_invoices(today, client_id)
    per_client = (select(graded.c.client_id, func.sum(graded.c.on_time).label("on_time"),
                         func.sum(graded.c.late).label("late"), func.sum(graded.c.missed).label("missed"),
                         func.avg(graded.c.days_late).label("avg_days_late"))
                  .group_by(graded.c.client_id).subquery("per_client"))
    pay = (select(Payment.client_id, func.avg(Payment.amount_cents).label("avg_amount"),
                  func.max(Payment.created_at).label("last_at"))
           .group_by(Payment.client_id).subquery("pay"))
    on_time, late, missed = (func.coalesce(per_client.c[n], 0) for n in ("on_time", "late", "missed"))
    avg_late = cast(func.coalesce(per_client.c.avg_days_late, 0), Float)
    risky = or_(missed >= thresholds["uisp_risky_missed"], late >= thresholds["uisp_risky_late"],
                avg_late > thresholds["uisp_risky_avg_days_late"])
    query = (select(Customer.id, on_time, late, missed, avg_late,
                    cast(func.round(func.coalesce(pay.c.avg_amount, 0)), BigInteger), pay.c.last_at,
                    case((risky, literal(True)), else_=literal(False)))
             .select_from(Customer.__table__.outerjoin(per_client, per_client.c.client_id == Customer.id)
                          .outerjoin(pay, pay.c.client_id == Customer.id)))
    if client_id is not None:
        query = query.where(Customer.id == client_id)
    return query


def recompute(conn, today, thresholds, client_id=None):
    """Rewrite the payment patterns (of every customer, or one) from the cache tables in `conn`'s transaction."""
    table = PaymentPattern.__table__
    wipe = table.delete()
    if client_id is not None:
        wipe = wipe.where(table.c.client_id == client_id)
    conn.execute(wipe)
    names = ["client_id", "on_time_count", "late_count", "missed_count", "avg_days_late", "avg_payment_cents",
             "last_payment_at", "is_risky"]
    return conn.execute(table.insert().from_select(names, _pattern_select(today, thresholds,
                                                                           client_id))).rowcount
