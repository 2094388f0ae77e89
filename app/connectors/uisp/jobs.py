"""UISP jobs: the atomic full snapshot (uisp.refresh) and one customer's refresh (uisp.refresh_customer).

Both are snapshots (base/snapshot.py): pages are fetched outside any transaction, each staged in
its own short transaction, and only then is every staging table merged into the cache in one
transaction. A failure (or a Terminate) at any page therefore leaves the cache exactly as it was.
"""
import math

from flask import current_app
from sqlalchemy import func, select

from ...extensions import db
from ...runs.registry import Param, job
from ..base import analyze, bulk_insert, clear_staging, merge_staged
from ..base.snapshot import Snapshot, take
from . import patterns
from .client import UispClient, UispError
from .models import STAGING, Customer, Invoice, Payment, PaymentCover, Service
from .rows import cover_rows, parse

# (kind, path, params): archived clients are left out by UISP unless asked for, and services of
# every status are wanted (not only active ones).
COLLECTIONS = (
    ("clients", "/clients", {"isArchived": 1}),
    ("services", "/clients/services", {}),
    ("invoices", "/invoices", {}),
    ("payments", "/payments", {}),
)
TABLES = {"clients": Customer.__table__, "services": Service.__table__, "invoices": Invoice.__table__,
          "payments": Payment.__table__, "covers": PaymentCover.__table__}
COUNTER_NAMES = {"clients": "customers", "services": "services", "invoices": "invoices", "payments": "payments",
                 "covers": "payment covers"}


def stage_of(kind):
    return STAGING[TABLES[kind].name]


@job("uisp.refresh", title="Refresh UISP customers", connector="uisp", cron="*/30 * * * *", lock="uisp",
     refresh=True, freshness=True, timeout=1800)
def refresh(ctx):
    """Snapshot every UISP customer, service, invoice and payment into the cache, all or nothing."""
    with UispClient.from_config(current_app.config) as client:
        def fill(snapshot):
            for kind, path, params in COLLECTIONS:
                for _offset, objects in client.concurrent_pages(path, **params):
                    snapshot.stage(kind, objects)
        counts = take(ctx, UispSnapshot(ctx, estimate=_estimated_pages(client.page_size)), fill)
    ctx.summary = f"Refreshed {counts['clients']:,} customers"
    ctx.log.info("merged %s", " ".join(f"{COUNTER_NAMES[k].replace(' ', '_')}={v}" for k, v in counts.items()))


class UispSnapshot(Snapshot):
    """The staged copy of the source (or of one customer) that a refresh builds page by page, then merges."""

    def __init__(self, ctx, estimate=None, client_id=None):
        self.ctx = ctx
        self.seen = {kind: set() for kind in TABLES}
        self.pages = 0
        self.estimate = estimate
        self.client_id = client_id

    def begin(self):
        with db.engine.begin() as conn:
            # Any other run's leftovers are dead: runs holding the "uisp" lock never overlap.
            clear_staging(conn, STAGING.values())

    def stage(self, kind, objects):
        """Stage one page of a collection (skipping rows a shifting page repeated) in a short transaction."""
        rows = self._fresh(kind, parse(kind, objects))
        covers = self._fresh("covers", [row for obj in objects for row in cover_rows(obj)]) if kind == "payments" else []
        run_id = self.ctx.run_id
        with db.engine.begin() as conn:
            bulk_insert(conn, stage_of(kind), [(run_id, *row) for row in rows])
            bulk_insert(conn, stage_of("covers"), [(run_id, *row) for row in covers])
        self.pages += 1
        self.ctx.count(fetched=len(objects))
        total = max(self.estimate, self.pages + 1) if self.estimate else None
        self.ctx.progress(self.pages, total, f"{kind}: {len(self.seen[kind]):,} fetched")

    def _fresh(self, kind, rows):
        seen, fresh = self.seen[kind], []
        for row in rows:
            if row[0] not in seen:
                seen.add(row[0])
                fresh.append(row)
        return fresh

    def publish(self):
        """Make the cache (or one customer's part of it) equal the staged rows, and recompute
        payment patterns, in one transaction."""
        client_id = self.client_id
        today, thresholds = patterns.business_today(), patterns.risk_thresholds()
        scopes = _customer_scopes(client_id) if client_id is not None else {}
        totals = {"inserted": 0, "updated": 0, "deleted": 0}
        with db.engine.begin() as conn:
            # Covers first: one customer's scope finds them through the payments still cached.
            for kind in ("covers", "clients", "services", "invoices", "payments"):
                analyze(conn, stage_of(kind))
                merged = merge_staged(conn, TABLES[kind], stage_of(kind), self.ctx.run_id, scopes.get(kind))
                for name, n in zip(totals, merged):
                    totals[name] += n
            patterns.recompute(conn, today, thresholds, client_id)
            clear_staging(conn, STAGING.values(), self.ctx.run_id)
        self.ctx.count(**totals)
        self.ctx.progress(self.pages, self.pages, "cache updated")
        return {kind: len(ids) for kind, ids in self.seen.items()}

    def discard(self, error=None):
        """Drop this run's staged rows after a failure."""
        try:
            with db.engine.begin() as conn:
                clear_staging(conn, STAGING.values(), self.ctx.run_id)
        except Exception:  # the next refresh clears them anyway; never hide the real error
            self.ctx.log.warning("could not clear staged rows; the next refresh will")


def _customer_scopes(client_id):
    """Which cached rows belong to one customer (the only rows its refresh may delete)."""
    payments = TABLES["payments"]
    return {
        "clients": TABLES["clients"].c.id == client_id,
        "services": TABLES["services"].c.client_id == client_id,
        "invoices": TABLES["invoices"].c.client_id == client_id,
        "payments": payments.c.client_id == client_id,
        "covers": TABLES["covers"].c.payment_id.in_(select(payments.c.id).where(payments.c.client_id == client_id)),
    }


def _estimated_pages(page_size):
    """Pages the last snapshot took (from the cache's row counts): the progress bar's total, if known."""
    with db.engine.connect() as conn:
        counts = [conn.scalar(select(func.count()).select_from(TABLES[kind])) for kind, *_ in COLLECTIONS]
    if not any(counts):
        return None
    # A collection ends at its first short page, which may be empty.
    return sum(math.floor(n / page_size) + 1 for n in counts)


@job("uisp.refresh_customer", title="Refresh one UISP customer", connector="uisp", lock="uisp", timeout=300,
     params=(Param("client_id", "int", required=True, help="UISP client id"),))
def refresh_customer(ctx):
    """Refresh one customer, its services, invoices and payments, and its payment pattern."""
    client_id = ctx.params["client_id"]
    with UispClient.from_config(current_app.config) as client:
        try:
            customer = client.get(f"/clients/{client_id}")
        except UispError as exc:
            if exc.status != 404:
                raise
            customer = None
        ctx.progress(1, 5, "client")
        pages = {"clients": [customer] if customer else []}
        for step, (kind, path, _params) in enumerate(COLLECTIONS[1:], start=2):
            pages[kind] = [o for rows in client.pages(path, clientId=client_id) for o in rows] if customer else []
            ctx.progress(step, 5, kind)
    totals = take(ctx, UispSnapshot(ctx, client_id=client_id),
                  lambda snapshot: [snapshot.stage(kind, objects) for kind, objects in pages.items()])
    ctx.summary = (f"Refreshed customer {client_id}" if customer else
                   f"Customer {client_id} is gone from UISP; removed from the cache")
    ctx.log.info("client_id=%s %s", client_id, " ".join(f"{k}={v}" for k, v in totals.items()))
