"""Who should be suspended, and why.

A customer is due for suspension when it is not archived, not VIP, and has at least one unpaid
overdue invoice (something remains to pay, status unpaid or partially paid, due date before today)
whose *suspension date* is before today. An invoice's suspension date is its due date or, when the
customer has a grace payment day G, the first date on or after the due date whose day of the month
is G (G clamped to the month's last day, so 31 means the 30th in April).

The SQL prefilter keeps only customers with overdue invoices, aggregated to one row each; the grace
rule runs in Python on that row. The oldest overdue invoice decides: the suspension date grows with
the due date, so if any invoice's grace has passed, the oldest one's has.
"""
import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Optional

from sqlalchemy import exists, func, select

from ...extensions import db
from .models import Customer, Invoice, Service, ServiceStatus
from .queries import money, unpaid_overdue


@dataclass
class Due:
    """One customer due for suspension and the facts its reason is made of."""

    customer: Customer
    count: int
    overdue_cents: int
    oldest_due: date
    suspend_on: date
    oldest_number: str = ""

    @property
    def reason(self):
        """Why, in words: '2 unpaid invoices, R 1,234.56 overdue; oldest 2026000123 due 2026-10-15, …'."""
        plural = "invoice" if self.count == 1 else "invoices"
        text = (f"{self.count} unpaid {plural}, {money(self.overdue_cents, self.customer.currency)} overdue; "
                f"oldest {self.oldest_number} due {self.oldest_due.isoformat()}")
        grace = self.customer.grace_payment_day
        if grace:
            return f"{text}, grace day {grace} passed on {self.suspend_on.isoformat()}"
        return f"{text}, no grace day"


def _clamped(year, month, day):
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def suspension_date(due, grace_day: Optional[int]):
    """The day a debt due on `due` becomes suspendable: the due date, or the next grace day on or after it."""
    if not grace_day:
        return due
    candidate = _clamped(due.year, due.month, grace_day)
    if candidate >= due:
        return candidate
    following = (due.replace(day=1) + timedelta(days=32)).replace(day=1)
    return _clamped(following.year, following.month, grace_day)


def _overdue_per_customer(today):
    """One row per suspendable customer with overdue debt: (Customer, count, overdue cents, oldest due date)."""
    per_client = (select(Invoice.client_id, func.count().label("n"), func.sum(Invoice.remaining_cents).label("owed"),
                         func.min(Invoice.due_date).label("oldest"))
                  .where(unpaid_overdue(today)).group_by(Invoice.client_id).subquery("overdue"))
    return (select(Customer, per_client.c.n, per_client.c.owed, per_client.c.oldest)
            .join(per_client, per_client.c.client_id == Customer.id)
            .where(Customer.is_archived.is_(False), Customer.is_vip.is_(False))
            .order_by(per_client.c.oldest, Customer.id))


def due_for_suspension(today):
    """Every customer due for suspension on `today`, longest overdue first (without invoice numbers)."""
    due = []
    for customer, count, owed, oldest in db.session.execute(_overdue_per_customer(today)):
        suspend_on = suspension_date(oldest, customer.grace_payment_day)
        if suspend_on < today:
            due.append(Due(customer, count, int(owed or 0), oldest, suspend_on))
    return due


def name_oldest_invoices(rows, today):
    """Fill in each row's oldest overdue invoice number, in one query for the page's rows."""
    if not rows:
        return rows
    wanted = {(row.customer.id, row.oldest_due): row for row in rows}
    found = db.session.execute(
        select(Invoice.client_id, Invoice.due_date, func.min(Invoice.number))
        .where(Invoice.client_id.in_([cid for cid, _ in wanted]), unpaid_overdue(today))
        .group_by(Invoice.client_id, Invoice.due_date))
    for client_id, due, number in found:
        row = wanted.get((client_id, due))
        if row is not None:
            row.oldest_number = number
    return rows


def suspended_now_query():
    """Customers (not archived) with a service suspended right now, so operators can reactivate it."""
    suspended = exists().where(Service.client_id == Customer.id, Service.status == ServiceStatus.SUSPENDED)
    return select(Customer).where(Customer.is_archived.is_(False), suspended).order_by(Customer.id)


def services_by_customer(client_ids):
    """{client_id: [Service]} for the page's customers, in one query."""
    grouped = {cid: [] for cid in client_ids}
    if client_ids:
        for service in db.session.scalars(select(Service).where(Service.client_id.in_(client_ids))
                                          .order_by(Service.id)):
            grouped[service.client_id].append(service)
    return grouped
