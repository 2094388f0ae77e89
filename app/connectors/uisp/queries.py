"""The UISP pages' queries and the small formatters their templates share."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, case, exists, func, or_, select

from ... import settings
from ...extensions import db
from . import patterns
from .models import (INVOICE_STATUSES, OPEN_INVOICE_STATUSES, SERVICE_STATUSES, Customer, Invoice, Payment,
                     PaymentCover, PaymentPattern, ServiceStatus,
                     Service)

# Invoices that still count as owed; drafts, voids and proformas never do.
SYMBOLS = {"ZAR": "R", "USD": "$", "EUR": "€", "GBP": "£"}
# Longest run of digits searched as a UISP id (larger numbers overflow an INTEGER column).
MAX_ID_DIGITS = 9


def business_today():
    """Today's date in the business timezone (what "overdue" is measured against)."""
    return datetime.now(settings.business_tz()).date()


def money(cents, currency=None):
    """Cents as money with two decimals: 123456, 'ZAR' → 'R 1,234.56'."""
    if cents is None:
        return "—"
    symbol = SYMBOLS.get(currency or "", currency or "")
    amount = f"{abs(Decimal(cents) / 100):,.2f}"
    sign = "-" if cents < 0 else ""
    return f"{sign}{symbol} {amount}".strip() if symbol else f"{sign}{amount}"


def unpaid_overdue(today):
    """Invoice condition: something remains to pay on a real debt whose due date has passed."""
    return and_(Invoice.remaining_cents > 0, Invoice.status.in_(OPEN_INVOICE_STATUSES), Invoice.due_date < today)


def _like(text):
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def customer_query(filters, today):
    """Customers matching the list filters (q, status, vip, risky, overdue), ordered by UISP id."""
    query = select(Customer).order_by(Customer.id)
    q = filters.get("q")
    if q:
        pattern = _like(q)
        matches = [Customer.name.ilike(pattern, escape="\\"), Customer.user_ident.ilike(pattern, escape="\\")]
        if q.isdigit() and len(q) <= MAX_ID_DIGITS:
            matches.append(Customer.id == int(q))
        query = query.where(or_(*matches))
    status = filters.get("status") or "active"
    if status != "all":
        query = query.where(Customer.is_archived.is_(status == "archived"))
    if filters.get("vip"):
        query = query.where(Customer.is_vip.is_(filters["vip"] == "yes"))
    if filters.get("risky"):
        risky = exists().where(PaymentPattern.client_id == Customer.id, PaymentPattern.is_risky.is_(True))
        query = query.where(risky if filters["risky"] == "yes" else ~risky)
    if filters.get("overdue"):
        overdue = exists().where(Invoice.client_id == Customer.id, unpaid_overdue(today))
        query = query.where(overdue if filters["overdue"] == "yes" else ~overdue)
    return query


def service_counts(client_ids):
    """{client_id: {status: count}} for some customers, in one grouped query."""
    counts = {}
    if not client_ids:
        return counts
    rows = db.session.execute(select(Service.client_id, Service.status, func.count())
                              .where(Service.client_id.in_(client_ids))
                              .group_by(Service.client_id, Service.status).order_by(Service.status))
    for client_id, status, n in rows:
        counts.setdefault(client_id, {})[status] = n
    return counts


def summary(counts):
    """{1: 1, 3: 1} → '1 active, 1 suspended' (active first, then by status code)."""
    if not counts:
        return "no services"
    order = sorted(counts, key=lambda s: (s != 1, s))
    return ", ".join(f"{counts[s]} {SERVICE_STATUSES.get(s, f'status {s}').lower()}" for s in order)


def risky_ids(client_ids):
    """The ids, among some customers, whose payment pattern is risky."""
    if not client_ids:
        return set()
    return set(db.session.scalars(select(PaymentPattern.client_id)
                                  .where(PaymentPattern.client_id.in_(client_ids), PaymentPattern.is_risky)))


def csv_query(filters, today):
    """The customer list as flat rows for the CSV export, service counts joined in one grouped subquery."""
    svc = (select(Service.client_id, func.count().label("total"),
                  func.sum(case((Service.status == ServiceStatus.ACTIVE, 1), else_=0)).label("active"),
                  func.sum(case((Service.status == ServiceStatus.SUSPENDED, 1), else_=0)).label("suspended"))
           .group_by(Service.client_id).subquery("svc"))
    base = customer_query(filters, today).subquery("c")
    return (select(base.c.id, base.c.user_ident, base.c.name, base.c.is_archived, func.coalesce(svc.c.active, 0),
                   func.coalesce(svc.c.suspended, 0), func.coalesce(svc.c.total, 0), base.c.outstanding_cents,
                   base.c.currency, base.c.is_vip, func.coalesce(PaymentPattern.is_risky, False))
            .select_from(base.outerjoin(svc, svc.c.client_id == base.c.id)
                         .outerjoin(PaymentPattern, PaymentPattern.client_id == base.c.id))
            .order_by(base.c.id))


CSV_HEADER = ["id", "user_ident", "name", "account_status", "active_services", "suspended_services",
              "all_services", "outstanding", "currency", "vip", "risky"]


def csv_row(row):
    """One export row: plain decimals for money (spreadsheets sum them), yes/no for flags."""
    (cid, ident, name, archived, active, suspended, total, outstanding, currency, vip, risky) = row
    return [cid, ident or "", name, "Archived" if archived else "Active", active, suspended, total,
            f"{Decimal(outstanding or 0) / 100:.2f}", currency or "", "yes" if vip else "no",
            "yes" if risky else "no"]


# --- customer detail ------------------------------------------------------------------------------

def invoice_state(invoice):
    """Paid / Partially paid / Unpaid from what remains to pay (never the status field); Draft/Void/Proforma as such."""
    if invoice.status not in (1, 2, 3):
        return INVOICE_STATUSES.get(invoice.status, f"Status {invoice.status}").replace("Processed proforma",
                                                                                       "Proforma")
    if invoice.remaining_cents <= 0:
        return "Paid"
    if invoice.remaining_cents < invoice.total_cents:
        return "Partially paid"
    return "Unpaid"


def is_overdue(invoice, today):
    return (invoice.remaining_cents > 0 and invoice.status in OPEN_INVOICE_STATUSES
            and invoice.due_date is not None and invoice.due_date < today)


def vip_grace(customer):
    """'VIP · grace day 15', 'VIP', 'Grace payment day: 15' or '—' (the grace day sits beside VIP)."""
    grace = customer.grace_payment_day
    if customer.is_vip:
        return f"VIP · grace day {grace}" if grace else "VIP"
    return f"Grace payment day: {grace}" if grace else "—"


def customer_detail(client_id):
    """A cached customer with its services, invoices (newest first), payments and payment pattern, or None."""
    customer = db.session.get(Customer, client_id)
    if customer is None:
        return None
    services = db.session.scalars(select(Service).where(Service.client_id == client_id).order_by(Service.id)).all()
    invoices = db.session.scalars(select(Invoice).where(Invoice.client_id == client_id)
                                  .order_by(Invoice.created_date.desc(), Invoice.id.desc())).all()
    payments = db.session.scalars(select(Payment).where(Payment.client_id == client_id)
                                  .order_by(Payment.created_at.desc(), Payment.id.desc())).all()
    return {"customer": customer, "services": services, "invoices": invoices, "payments": payments,
            "covers": payment_covers([p.id for p in payments]),
            "pattern": db.session.get(PaymentPattern, client_id)}


def payment_covers(payment_ids):
    """{payment_id: [(invoice id, invoice number, cents)]}: which invoices each payment paid."""
    covers = {}
    if not payment_ids:
        return covers
    rows = db.session.execute(
        select(PaymentCover.payment_id, PaymentCover.invoice_id, Invoice.number, PaymentCover.amount_cents)
        .outerjoin(Invoice, Invoice.id == PaymentCover.invoice_id)
        .where(PaymentCover.payment_id.in_(payment_ids), PaymentCover.invoice_id.is_not(None))
        .order_by(PaymentCover.id))
    for payment_id, invoice_id, number, cents in rows:
        # A cover may name an invoice the cache does not hold (voided and deleted since): show its id.
        covers.setdefault(payment_id, []).append((invoice_id, number or f"#{invoice_id}", cents))
    return covers


def pattern_rule():
    """The payment-pattern rule in one sentence, in patterns.py's words, with the current thresholds."""
    t = {spec.key: settings.get(spec.key) for spec in patterns.RISK_SETTINGS}
    return ("Per invoice: on time when nothing remains to pay and the last covering payment was on or before "
            "the due date, late when it came after the due date, missed when something remains to pay and the "
            f"due date has passed; risky when missed ≥ {t['uisp_risky_missed']}, or late ≥ "
            f"{t['uisp_risky_late']}, or the average days late > {t['uisp_risky_avg_days_late']}.")
