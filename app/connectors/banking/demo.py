"""The Banking part of `make run`: two demo accounts and statements in all four formats, imported.

The statements are written from the fake UISP's own open invoices (read over HTTP, as the connector
reads them), so their credits match: by invoice number, by customer number, by amount, or not at all
(a name suggestion). The CAMT and MT940 files overlap by two days, and the CAMT is offered twice: the
imports page shows the duplicates found. One large credit is a reseller's deposit for 60 invoices,
with its allocation CSV in instance/demo-statements/ for a bulk reconciliation.
"""
import io
import logging
import os
from datetime import date, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from ...extensions import db
from ...runs.service import enqueue
from ..base.connections import Connection, write_settings
from ..base.upload import store_upload
from . import uisp_payments
from .statements import CsvProfile, Line, Statement, write_camt053, write_csv, write_mt940, write_ofx

log = logging.getLogger("syncdeck.banking.demo")
MAIN = ("demo-main", "Demo current account", "GB82WEST12345698765432")
SAVINGS = ("demo-savings", "Demo savings account (CSV)", "DE89370400440532013000")
CSV_LAYOUT = {"csv_delimiter": ";", "csv_decimal": ",", "csv_thousands": ".", "csv_date_format": "%d.%m.%Y",
              "csv_date": "Buchungstag", "csv_amount": "Betrag", "csv_reference": "Referenz",
              "csv_name": "Name", "csv_description": "Verwendungszweck", "csv_bank_reference": "Bankreferenz"}
CSV_PROFILE = CsvProfile(delimiter=";", decimal=",", thousands=".", date_format="%d.%m.%Y", date="Buchungstag",
                         amount="Betrag", reference="Referenz", name="Name", description="Verwendungszweck",
                         bank_reference="Bankreferenz", default_currency="ZAR")


def demo_setup():
    """Create the demo accounts, write the demo statements and queue their imports (once)."""
    for key, name, account in (MAIN, SAVINGS):
        _account(key, name, account, CSV_LAYOUT if key == SAVINGS[0] else {})
    db.session.commit()
    if db.session.scalar(select(Connection.id).where(Connection.connector == "banking",
                                                     Connection.updated_by == "demo-imported")):
        return
    try:
        invoices, clients = _open_invoices()
    except Exception as exc:  # the demo still starts; the accounts are there to import by hand
        log.warning("banking demo: could not read the fake UISP (%s); no demo statements", exc)
        return
    files = _statements(invoices, clients, date.today())
    folder = os.path.join(current_app.instance_path, "demo-statements")
    os.makedirs(folder, exist_ok=True)
    for name, content, account_key in files:
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(content)
        if name.endswith("allocation.csv"):
            continue
        upload = store_upload(FileStorage(io.BytesIO(content), filename=name), "demo")
        db.session.commit()
        enqueue("banking.import_statement", {"statement": upload.sha256, "account": account_key}, trigger="cli",
                requested_by="demo")
        db.session.commit()
    conn = db.session.scalar(select(Connection).where(Connection.connector == "banking", Connection.key == MAIN[0]))
    conn.updated_by = "demo-imported"
    db.session.commit()


def _account(key, name, account, extra):
    conn = db.session.scalar(select(Connection).where(Connection.connector == "banking", Connection.key == key))
    if conn is None:
        conn = Connection(connector="banking", key=key, display_name=name, active=True, version=1, settings={},
                          secrets="", updated_by="demo")
        db.session.add(conn)
        write_settings(conn, {"account": account, "currency": "ZAR", **extra}, "demo")


def _open_invoices():
    uisp = uisp_payments.client()
    invoices = uisp.get("/invoices", statuses=[1, 2], limit=400, order="createdDate", direction="DESC")
    clients = {c["id"]: c for c in uisp.get("/clients", limit=10000)}
    return [i for i in invoices if float(i.get("amountToPay") or 0) > 0], clients


def _statements(invoices, clients, today):
    """[(file name, bytes, account key)] of the demo files."""
    by_client = {}
    for invoice in invoices:
        by_client.setdefault(invoice["clientId"], invoice)
    picks = list(by_client.values())
    credits = []
    for invoice in picks[:14]:  # invoice number in the remittance
        credits.append((invoice, f"INV {invoice['number']}", _name(clients, invoice)))
    for invoice in picks[14:24]:  # customer number in the remittance
        ident = clients.get(invoice["clientId"], {}).get("userIdent") or ""
        credits.append((invoice, f"Internet {ident}", _name(clients, invoice)))
    for invoice in picks[24:28]:  # no reference: a name suggestion at best
        credits.append((invoice, "Thank you", _name(clients, invoice)))
    used = {id(c[0]) for c in credits}
    bulk = [i for i in invoices if id(i) not in used and i["clientId"] not in {c[0]["clientId"] for c in credits}][:60]
    days = [today - timedelta(days=back) for back in range(8, 0, -1)]
    lines = []
    for n, (invoice, text, name) in enumerate(credits):  # spread over the 8 days: every file gets some
        lines.append(Line(booking_date=days[n % 8], value_date=days[n % 8], amount=_money(invoice["amountToPay"]),
                          currency="ZAR", bank_reference=f"DEMO{n + 1:06d}", reference="", name=name,
                          remittance=text))
    for n in range(8):
        lines.append(Line(booking_date=days[n], value_date=days[n], amount=Decimal("-45.00"), currency="ZAR",
                          bank_reference=f"DEMOFEE{n + 1:04d}", name="Bank", remittance="Monthly account fee"))
    bulk_total = sum(_money(i["amountToPay"]) for i in bulk)
    lines.append(Line(booking_date=days[5], value_date=days[5], amount=bulk_total, currency="ZAR",
                      bank_reference="DEMOBULK0001", name="Karoo Reseller Network", reference="RESELLER-NOV",
                      remittance=f"Bulk payment for {len(bulk)} subscriber invoices"))
    lines.sort(key=lambda line: line.booking_date)
    camt = _statement("camt053", MAIN[2], "DEMO-CAMT-1", [l for l in lines if l.booking_date <= days[3]], Decimal("10000.00"))
    mt940 = _statement("mt940", MAIN[2], "DEMO-MT940-1", [l for l in lines if days[2] <= l.booking_date <= days[5]],
                       _opening_before(lines, days[2], Decimal("10000.00")))
    ofx = _statement("ofx", MAIN[2], "DEMO-OFX-1", [l for l in lines if l.booking_date > days[5]],
                     _opening_before(lines, days[6], Decimal("10000.00")))
    savings_lines = [Line(booking_date=days[n], value_date=days[n], amount=Decimal(amount), currency="ZAR",
                          bank_reference=f"SAV{n + 1:05d}", reference=ref, name=name, remittance=text)
                     for n, (amount, ref, name, text) in enumerate((
                         ("1250.00", "", "Transfer", "Savings top-up"), ("-300.00", "", "Bank", "Transfer out"),
                         ("12.40", "", "Bank", "Interest")))]
    savings = _statement("csv", SAVINGS[2], "", savings_lines, Decimal("5000.00"))
    allocation = "invoice_number,amount\n" + "".join(f"{i['number']},{_money(i['amountToPay']):.2f}\n" for i in bulk)
    camt_bytes = write_camt053([camt])
    return [("01-main-camt053.xml", camt_bytes, MAIN[0]), ("02-main-camt053-again.xml", camt_bytes + b"\n", MAIN[0]),
            ("03-main-overlapping.mt940", write_mt940([mt940]), MAIN[0]),
            ("04-main-latest.ofx", write_ofx(ofx, version=2), MAIN[0]),
            ("05-savings.csv", write_csv(savings, CSV_PROFILE), SAVINGS[0]),
            ("bulk-allocation.csv", allocation.encode(), MAIN[0])]


def _name(clients, invoice):
    client = clients.get(invoice["clientId"], {})
    return " ".join(filter(None, (client.get("firstName"), client.get("lastName")))) or client.get("companyName") or ""


def _money(value):
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _opening_before(lines, day, start):
    return start + sum((l.amount for l in lines if l.booking_date < day), Decimal("0"))


def _statement(fmt, account, statement_id, lines, opening):
    closing = opening + sum((l.amount for l in lines), Decimal("0"))
    return Statement(format=fmt, account=account, currency="ZAR", statement_id=statement_id,
                     opening_balance=opening, opening_date=lines[0].booking_date if lines else None,
                     closing_balance=closing, closing_date=lines[-1].booking_date if lines else None,
                     lines=tuple(lines))
