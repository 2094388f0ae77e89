"""The CRM bridge's cycle, one job per step, each queued when the one before it succeeds:

    crm.dedupe_members → crm.contacts → crm.products → crm.store_invoices → crm.service_invoices → crm.receipts

Only the first has a schedule (daily 01:30, editable on Schedules); they share the lock `crm`, so
one step at a time talks to the CRM, with CRM_CONCURRENCY calls in flight. Every push step reads
its whole table (from its minimum id on) in chunks and lets the ledger decide what is sent: new
and changed records are, unchanged ones are not (base/push.py).
"""
from flask import current_app

from ...runs.registry import job
from ..base.push import PushStream, push
from . import dedupe, records as rec, source
from .client import CrmClient
from .sending import Sender

LOCK = "crm"
PUSH_COUNTERS = ("pushed", "skipped")


STREAMS = ("contacts", "products", "store_invoices", "service_invoices", "receipts")


def stream(name, lookup=None):
    """A stream of ours; every record carries its source key as record["key"]."""
    return PushStream(connector=rec.CONNECTOR, name=name, key=lambda record: record["key"], lookup=lookup)


def _run_push(ctx, name, key, chunk_records, send_name, query=None):
    """Push one stream: chunks of `query` (by default its whole table) read in `key` order become records;
    the ledger decides what is sent. The table's minimum id (Minimum ids page) applies."""
    table = key.table
    config = current_app.config
    facts = rec.RunFacts.load()
    size, workers = config["CRM_BATCH_SIZE"], config["CRM_CONCURRENCY"]
    with CrmClient.from_config(config) as client, source.connect(config["CRM_SOURCE_URL"]) as conn:
        sender = Sender(client)
        pushed = stream(name, getattr(sender, f"{send_name}_lookup"))
        min_id = facts.min_ids.get(table.name, 0)
        selected = query(min_id) if query else source.rows_from(table, min_id)
        total = conn.scalar(source.count_of(selected))
        conn.rollback()

        def records():
            for rows in source.in_chunks(conn, selected, key, size):
                yield from chunk_records(conn, rows, facts)
        outcome = push(ctx, pushed, records(), getattr(sender, send_name), batch_size=size, workers=workers,
                       total=total)
    sent = ", ".join(f"{n:,} {status}" for status, n in outcome.items() if n)
    ctx.summary = f"{name}: {sent or 'nothing to send'}"
    return outcome


@job("crm.dedupe_members", title="CRM: de-duplicate members", connector="crm", cron="30 1 * * *", lock=LOCK,
     counters=("skipped",), timeout=1800)
def dedupe_members(ctx):
    """Sets aside members who share a mobile, then a national code, with a person who has later invoices."""
    found = dedupe.run(ctx, current_app.config["CRM_SOURCE_URL"])
    ctx.summary = f"{found['persons']:,} persons, {found['duplicates']:,} duplicates set aside"


@job("crm.contacts", title="CRM: contacts from memberships", connector="crm", lock=LOCK,
     after=("crm.dedupe_members",), counters=PUSH_COUNTERS, timeout=7200)
def contacts(ctx):
    """Creates or updates a CRM contact for the latest version of every member."""
    _run_push(ctx, "contacts", source.membership.c.personVId,
              lambda _conn, rows, facts: [rec.contact_record(r, facts) for r in rows], "contact",
              query=source.latest_members)


@job("crm.products", title="CRM: products from services", connector="crm", lock=LOCK, after=("crm.contacts",),
     counters=PUSH_COUNTERS, timeout=3600)
def products(ctx):
    """Creates or updates a CRM product (in the category of its service group) for every service."""
    _run_push(ctx, "products", source.service.c.IDD,
              lambda _conn, rows, facts: [rec.product_record(r, facts) for r in rows], "product")


def _store_chunk(conn, heads, facts):
    items = conn.execute(source.items_of([h["IDD"] for h in heads])).mappings().all()
    conn.rollback()
    return rec.store_invoice_records(heads, items, facts)


@job("crm.store_invoices", title="CRM: store invoices (Hed/Item)", connector="crm", lock=LOCK,
     after=("crm.products",), counters=PUSH_COUNTERS, timeout=7200)
def store_invoices(ctx):
    """Creates, confirms (and deals) a CRM invoice for every store invoice whose contact and products are synced."""
    _run_push(ctx, "store_invoices", source.invoice_hed.c.IDD, _store_chunk, "invoice")


@job("crm.service_invoices", title="CRM: service invoices (gym)", connector="crm", lock=LOCK,
     after=("crm.store_invoices",), counters=PUSH_COUNTERS, timeout=7200)
def service_invoices(ctx):
    """Creates, confirms (and deals) a CRM invoice for every service invoice whose contact and product are synced."""
    _run_push(ctx, "service_invoices", source.service_invoice.c.IDD,
              lambda _conn, rows, facts: rec.service_invoice_records(rows, facts), "invoice")


@job("crm.receipts", title="CRM: receipts to operating incomes", connector="crm", lock=LOCK,
     after=("crm.service_invoices",), counters=PUSH_COUNTERS, timeout=7200)
def receipts(ctx):
    """Creates an operating income, in the bank account mapped for its payment method, for every receipt."""
    _run_push(ctx, "receipts", source.receipt.c.IDD,
              lambda _conn, rows, facts: rec.receipt_records(rows, facts), "receipt")
