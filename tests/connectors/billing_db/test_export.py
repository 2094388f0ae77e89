"""Export Details: a streamed CSV and an XLSX built on disk, both of the filtered details of a batch."""
import csv
import glob
import io
import os
import re
import tempfile
import zipfile
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.connectors.billing_db import export
from app.connectors.billing_db.models import BILL_STOP, BillStopBatch, BillStopDetail
from app.extensions import db
from tests.connectors.billing_db.conftest import ran_batch

FORMULA = '=HYPERLINK("http://example.invalid","x")'


@pytest.fixture
def batch(app, billing, executor):
    return ran_batch(app)


def count(app, batch_id, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).where(BillStopDetail.batch_id == batch_id, *where))


def csv_rows(response):
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def sheet_rows(data, sheet=1):
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        xml = book.read(f"xl/worksheets/sheet{sheet}.xml").decode()
    return xml, len(re.findall(r"<row ", xml))


def test_csv_is_streamed_with_every_detail_and_the_batch_date(app, admin, batch):
    response = admin.client.get("/billing/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv" and response.is_streamed
    assert f'filename="bill-stop-details-{batch.batch_date.isoformat()}.csv"' in response.headers["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == export.HEADER and len(rows) - 1 == count(app, batch.id) == batch.details_count
    assert len({r[0] for r in rows[1:]}) == batch.details_count
    assert all(r[6] == BILL_STOP for r in rows[1:batch.bill_stop_count + 1])  # bill stops first, as on the page
    assert all(re.fullmatch(r"-?\d+\.\d\d", r[7]) for r in rows[1:])


def test_csv_follows_the_page_filters(app, admin, batch):
    bill_stops = csv_rows(admin.client.get("/billing/export.csv?status=Bill+Stop"))
    assert len(bill_stops) - 1 == batch.bill_stop_count
    crp = bill_stops[1][3]
    by_crp = csv_rows(admin.client.get(f"/billing/export.csv?crp={crp}"))
    assert len(by_crp) - 1 == count(app, batch.id, BillStopDetail.crp_account_no == crp)
    assert {r[3] for r in by_crp[1:]} == {crp}
    assert admin.client.get("/billing/export.csv?status=Nope").status_code == 400


def test_csv_neutralises_formulas_from_the_source(app, admin, batch):
    with app.app_context():
        detail = db.session.scalars(select(BillStopDetail).where(BillStopDetail.batch_id == batch.id).limit(1)).one()
        detail.customer_name = FORMULA
        db.session.commit()
        cpc = detail.cpc_customer_no
    rows = csv_rows(admin.client.get(f"/billing/export.csv?q={cpc}"))
    assert rows[1][2] == "'" + FORMULA


def test_xlsx_has_a_row_per_filtered_detail_and_leaves_no_file(app, admin, batch):
    pattern = os.path.join(tempfile.gettempdir(), "bill-stops-*.xlsx")
    before = set(glob.glob(pattern))
    response = admin.client.get("/billing/export.xlsx")
    assert response.status_code == 200 and response.mimetype == export.XLSX_MIMETYPE
    assert f"bill-stop-details-{batch.batch_date.isoformat()}.xlsx" in response.headers["Content-Disposition"]
    data = response.get_data()
    response.close()
    xml, n_rows = sheet_rows(data)
    assert n_rows == 1 + batch.details_count
    filtered = admin.client.get("/billing/export.xlsx?status=Bill+Stop")
    assert sheet_rows(filtered.get_data())[1] == 1 + batch.bill_stop_count
    filtered.close()
    assert set(glob.glob(pattern)) == before


def test_xlsx_writes_text_as_text_and_spills_onto_a_second_sheet(app, admin, batch, monkeypatch):
    monkeypatch.setattr(export, "SHEET_ROWS", 100)
    with app.app_context():
        detail = db.session.scalars(select(BillStopDetail).where(BillStopDetail.batch_id == batch.id,
                                                                 BillStopDetail.is_bill_stop).limit(1)).one()
        detail.customer_name, detail.current_balance = FORMULA, Decimal("-12.50")
        db.session.commit()
    data = admin.client.get("/billing/export.xlsx?status=Bill+Stop").get_data()
    first, n_first = sheet_rows(data, 1)
    second, n_second = sheet_rows(data, 2)
    assert (n_first - 1) + (n_second - 1) == batch.bill_stop_count and n_first == 101
    assert "<f>" not in first + second and f"<t>{FORMULA}</t>" in first + second  # a string, never a formula
    assert re.search(r"<v>-12\.50?</v>", first + second)  # a number, not text


def test_export_of_an_older_kept_batch_and_without_any_batch(app, admin, batch):
    assert admin.client.get(f"/billing/export.csv?batch={batch.id}").status_code == 200
    assert admin.client.get("/billing/export.xlsx?batch=999999").status_code == 400
    with app.app_context():
        db.session.get(BillStopBatch, batch.id).status = "expired"
        db.session.commit()
    response = admin.client.get("/billing/export.csv")
    assert response.status_code == 404 and "No batch yet" in response.get_data(as_text=True)
