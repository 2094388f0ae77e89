"""Fixtures for Banking: the fake UISP as its own process, its data refreshed into our cache, a bank
account connection, and helpers that write real statement files and import them through the job."""
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
import requests
from werkzeug.datastructures import FileStorage

from app.connectors.banking.models import BankLine
from app.connectors.base.connections import Connection, write_settings
from app.connectors.base.upload import store_upload
from app.extensions import db
from tests.fakes.servers import FakeControls, fake_uisp
from tests.runs.helpers import run_job

KEY = "uisp-banking-key"
IBAN = "GB82WEST12345698765432"
N_CLIENTS = 300


@pytest.fixture(scope="session")
def bank_uisp_server():
    with fake_uisp(N_CLIENTS, KEY, "--seed", "5") as root:
        yield BankFake(root, KEY)


class BankFake(FakeControls):
    """The fake UISP's controls plus its payment truth."""

    def truth(self):
        response = requests.get(self.root + "/__fake/payments", timeout=30)
        response.raise_for_status()
        return response.json()

    def ours(self):
        """The live (not deleted) payments created through the API."""
        return self.truth()["payments"]

    def by_provider_id(self):
        counts = {}
        for payment in self.ours():
            counts[payment["providerPaymentId"]] = counts.get(payment["providerPaymentId"], 0) + 1
        return counts

    def open_invoices(self, count):
        response = requests.post(self.root + "/__fake/invoices/open", json={"count": count}, timeout=30)
        response.raise_for_status()
        return response.json()


def configure(app, server, **extra):
    app.config.update(UISP_BASE_URL=server.base_url, UISP_APP_KEY=KEY, UISP_RETRY_BACKOFF=0.01, UISP_RETRIES=2,
                      UISP_TIMEOUT=30, UISP_PAGE_SIZE=200, BANKING_CONCURRENCY=4, **extra)


@pytest.fixture
def bank(app, bank_uisp_server, executor):
    """The fake UISP reset and refreshed into the cache, and one bank account (key "main")."""
    bank_uisp_server.reset()
    configure(app, bank_uisp_server)
    run = run_job(app, "uisp.refresh", timeout=120)
    assert run.status == "succeeded", run.reason
    with app.app_context():
        add_account("main", IBAN)
    yield bank_uisp_server
    bank_uisp_server.faults()


def add_account(key, account, **settings):
    conn = Connection(connector="banking", key=key, display_name=f"Account {key}", active=True, version=1,
                      settings={}, secrets="", updated_by="test")
    db.session.add(conn)
    write_settings(conn, {"account": account, "currency": "ZAR", **settings}, "test")
    db.session.commit()
    return conn


def store(app, content, filename):
    """Store bytes as an upload (as the upload form does); returns its sha256."""
    with app.app_context():
        upload = store_upload(FileStorage(io.BytesIO(content), filename=filename), "tester")
        db.session.commit()
        return upload.sha256


def import_file(app, content, filename, account=""):
    """Upload and import a statement file through the job; returns the finished run."""
    sha = store(app, content, filename)
    params = {"statement": sha, **({"account": account} if account else {})}
    return run_job(app, "banking.import_statement", params, timeout=120)


def lines(app, **filters):
    with app.app_context():
        query = db.select(BankLine).filter_by(**filters).order_by(BankLine.id)
        found = db.session.scalars(query).all()
        db.session.expunge_all()
        return found


def open_invoices(server, count):
    """Open invoices of the fake UISP as [{"id", "clientId", "number", "cents"}] (number from the API)."""
    found = []
    for row in server.open_invoices(count)["invoices"]:
        invoice = server.get(f"/invoices/{row['id']}")
        found.append({"id": invoice["id"], "clientId": invoice["clientId"], "number": invoice["number"],
                      "cents": int(round(invoice["amountToPay"] * 100))})
    return found


def day(n):
    return date(2026, 11, 2) + timedelta(days=n)


def money(cents):
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))
