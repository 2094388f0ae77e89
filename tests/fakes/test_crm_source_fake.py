"""The CRM bridge's fake source: the club's dbo tables, seeded deterministically with what the bridge
must cope with (versions, duplicates across persons), on SQLite and, when the suite runs there, PostgreSQL."""
import json
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from app.fakes.crm_source import create_and_seed, engine_for, metadata
from tests.connectors.billing_db.conftest import source_url

SIZES = {"members": 600, "services": 20, "store_invoices": 300, "service_invoices": 100, "receipts": 150}
T = {t.name: t for t in metadata.tables.values()}


@pytest.fixture
def url(tmp_path):
    return source_url(tmp_path, suffix="_crm_fake")


def _all(url, table):
    with engine_for(url).connect() as conn:
        return conn.execute(select(T[table]).order_by(T[table].c.IDD)).all()


def test_every_table_holds_the_rows_asked_for(url):
    summary = create_and_seed(url, seed=5, **SIZES)
    assert summary["rows"]["membership"] == 600 and summary["rows"]["receipt"] == 150
    for table, n in summary["rows"].items():
        assert len(_all(url, table)) == n
    assert summary["rows"]["invoiceItem"] >= summary["rows"]["invoiceHed"]


def test_the_same_seed_gives_the_same_rows_and_another_seed_others(url):
    create_and_seed(url, seed=5, **SIZES)
    first = _all(url, "membership")
    create_and_seed(url, seed=5, **SIZES)
    assert _all(url, "membership") == first
    create_and_seed(url, seed=6, **SIZES)
    assert _all(url, "membership") != first


def test_invoices_items_and_receipts_reference_existing_rows(url):
    create_and_seed(url, seed=5, **SIZES)
    persons = {r.personVId for r in _all(url, "membership")}
    services = {r.IDD for r in _all(url, "service")}
    heads = {r.IDD for r in _all(url, "invoiceHed")}
    assert {r.personVId for r in _all(url, "invoiceHed")} <= persons
    assert {r.personVId for r in _all(url, "receipt")} <= persons
    assert {(r.invoiceHedId in heads, r.serviceId in services) for r in _all(url, "invoiceItem")} == {(True, True)}
    assert {r.serviceId for r in _all(url, "ServiceInvoice")} <= services


def test_persons_have_versions_and_some_share_a_latest_mobile_with_another_person(url):
    summary = create_and_seed(url, seed=5, **SIZES)
    rows = _all(url, "membership")
    latest = {}
    for row in rows:  # IDD order: the last row of a person is its latest version
        latest[row.personVId] = row
    assert len(latest) < len(rows), "some persons have several versions"
    by_mobile = {}
    for person, row in latest.items():
        if row.mobile:
            by_mobile.setdefault(row.mobile, set()).add(person)
    shared = [group for group in by_mobile.values() if len(group) > 1]
    assert shared and summary["duplicate_mobile_groups"] >= len(shared) > 0
    assert summary["persons"] == len(latest)


def test_reseeding_replaces_every_row(url):
    create_and_seed(url, seed=5, **SIZES)
    create_and_seed(url, seed=5, **{**SIZES, "receipts": 10})
    with engine_for(url).connect() as conn:
        assert conn.scalar(select(func.count()).select_from(T["receipt"])) == 10


def test_the_command_line_seeds_and_prints_the_summary_as_json(tmp_path):
    db_url = f"sqlite:///{tmp_path}/cli.db"
    done = subprocess.run([sys.executable, "-m", "app.fakes.crm_source", "--url", db_url, "--members", "50",
                           "--store-invoices", "5", "--service-invoices", "5", "--receipts", "5", "--services", "3"],
                          capture_output=True, text=True, check=True)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["rows"]["membership"] == 50 and len(_all(db_url, "membership")) == 50
