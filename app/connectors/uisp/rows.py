"""UISP JSON objects → cache rows (tuples in each cache table's column order).

Field names are UISP's own (API v1.0): invoices carry `amountToPay` for what is still owed —
there is no `remainingAmount` — and a client's `isActive` is client-zone access, not a service status.
"""
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation

from .client import UispError
from .models import Customer, Invoice, Payment, PaymentCover, Service

VIP_KEY = "vip"
GRACE_KEY = "gracePaymentDay"


def cents(value):
    """Money as integer cents (UISP sends JSON numbers with two decimals)."""
    if value is None or value == "":
        return 0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Exact for two-decimal amounts far beyond any invoice, and ~10× faster than Decimal.
        return int(round(value * 100))
    try:
        return int((Decimal(str(value)) * 100).quantize(Decimal(1)))
    except InvalidOperation:
        raise UispError(f"UISP sent {value!r} where an amount was expected") from None


def day(value):
    """The calendar date UISP meant ('2016-09-12T00:00:00+0200' is 12 September, wherever we are)."""
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise UispError(f"UISP sent {value!r} where a date was expected") from None


def moment(value):
    """A UISP datetime as naive UTC (how every time is stored)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)   # reads UISP's "+0000" offsets, far faster than strptime
    except (TypeError, ValueError):
        raise UispError(f"UISP sent {value!r} where a datetime was expected") from None
    if parsed.tzinfo is None:
        raise UispError(f"UISP sent {value!r} without a UTC offset")
    return parsed.astimezone(timezone.utc).replace(tzinfo=None)


def _attributes(client):
    return {a.get("key"): a.get("value") for a in client.get("attributes") or [] if isinstance(a, dict)}


def _truthy(value):
    return str(value or "").strip().lower() in ("1", "true", "yes", "y")


def _grace_day(value):
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= 31 else None


def _main_contact(client):
    contacts = [c for c in client.get("contacts") or [] if isinstance(c, dict)]
    billing = [c for c in contacts if c.get("isBilling")]
    return (billing or contacts or [{}])[0]


def display_name(first, last, company):
    return company or " ".join(part for part in (first, last) if part) or "(no name)"


def customer_row(c):
    attrs = _attributes(c)
    contact = _main_contact(c)
    first, last, company = c.get("firstName"), c.get("lastName"), c.get("companyName")
    values = {
        "id": int(c["id"]), "user_ident": c.get("userIdent"), "name": display_name(first, last, company)[:300],
        "first_name": first, "last_name": last, "company_name": company, "client_type": c.get("clientType") or 1,
        "is_archived": bool(c.get("isArchived")), "client_zone_active": bool(c.get("isActive")),
        "balance_cents": cents(c.get("accountBalance")), "credit_cents": cents(c.get("accountCredit")),
        "outstanding_cents": cents(c.get("accountOutstanding")),
        "has_overdue_invoice": bool(c.get("hasOverdueInvoice")),
        "has_suspended_service": bool(c.get("hasSuspendedService")),
        "is_vip": _truthy(attrs.get(VIP_KEY)), "grace_payment_day": _grace_day(attrs.get(GRACE_KEY)),
        "email": contact.get("email"), "phone": contact.get("phone"), "address": c.get("fullAddress"),
        "registration_date": day(c.get("registrationDate")), "currency": c.get("currencyCode"),
    }
    return _ordered(Customer, values)


def service_row(s):
    open_periods = [p for p in s.get("suspensionPeriods") or [] if isinstance(p, dict) and not p.get("endDate")]
    values = {
        "id": int(s["id"]), "client_id": int(s["clientId"]),
        "name": (s.get("servicePlanName") or s.get("name") or "")[:300], "status": int(s["status"]),
        "price_cents": cents(s.get("price")), "total_price_cents": cents(s.get("totalPrice")),
        "active_from": day(s.get("activeFrom")), "active_to": day(s.get("activeTo")),
        "suspended_since": min((day(p.get("startDate")) for p in open_periods), default=None),
    }
    return _ordered(Service, values)


def invoice_row(i):
    values = {
        "id": int(i["id"]), "client_id": int(i["clientId"]), "number": str(i.get("number") or i["id"]),
        "created_date": day(i.get("createdDate")), "due_date": day(i.get("dueDate")),
        "total_cents": cents(i.get("total")), "paid_cents": cents(i.get("amountPaid")),
        "remaining_cents": cents(i.get("amountToPay")), "status": int(i["status"]),
    }
    return _ordered(Invoice, values)


def payment_row(p):
    client_id = p.get("clientId")
    values = {
        "id": int(p["id"]), "client_id": None if client_id is None else int(client_id),
        "created_at": moment(p.get("createdDate")), "amount_cents": cents(p.get("amount")),
        "credit_cents": cents(p.get("creditAmount")), "method_id": p.get("methodId"), "note": p.get("note"),
        "provider_name": p.get("providerName"), "provider_payment_id": p.get("providerPaymentId"),
    }
    return _ordered(Payment, values)


def cover_rows(p):
    """The invoices a payment paid (credit notes and refunds are covers too, but carry no invoice)."""
    return [_ordered(PaymentCover, {"id": int(cv["id"]), "payment_id": int(p["id"]),
                                    "invoice_id": cv.get("invoiceId"), "amount_cents": cents(cv.get("amount"))})
            for cv in p.get("paymentCovers") or [] if isinstance(cv, dict)]


def _ordered(model, values):
    return tuple(values[c.name] for c in model.__table__.columns)


def parse(kind, objects):
    """Rows for a page of one collection; a malformed object names itself in the error."""
    build = {"clients": customer_row, "services": service_row, "invoices": invoice_row, "payments": payment_row}[kind]
    try:
        return [build(o) for o in objects]
    except (KeyError, TypeError, ValueError) as exc:
        raise UispError(f"UISP sent a {kind[:-1]} this connector cannot read ({type(exc).__name__}: {exc})") from None
