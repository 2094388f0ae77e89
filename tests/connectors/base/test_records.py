"""The shared Records page: counts, filters, CSV, and retry/ignore (single, ticked, all matching), guarded."""
import csv
import io
import re

import pytest
from sqlalchemy import select

from app.auth.models import Activity
from app.connectors.base import push
from app.connectors.base.push_models import SyncRecord
from app.db import utcnow
from app.extensions import db
from tests.conftest import create_user


@pytest.fixture
def rows(app):
    """A ledger of two connectors: crm/contacts (3 synced, 2 failed, 1 skipped) and shop/orders (1 failed, 1 ignored)."""
    spec = [("crm", "contacts", "c1", "synced", ""), ("crm", "contacts", "c2", "synced", ""),
            ("crm", "contacts", "c3", "synced", ""), ("crm", "contacts", "c4", "failed", "422: mobile missing"),
            ("crm", "contacts", "c5", "failed", "=HYPERLINK(evil)"), ("crm", "contacts", "c6", "skipped", "no contact"),
            ("shop", "orders", "o1", "failed", "422: mobile missing"), ("shop", "orders", "o2", "ignored", "")]
    with app.app_context():
        db.session.add_all([SyncRecord(connector=c, stream=s, source_key=k, status=st, message=m, attempts=1,
                                       target_id="T-" + k if st == "synced" else "", last_attempt_at=utcnow())
                            for c, s, k, st, m in spec])
        db.session.commit()
        return {r.source_key: r.id for r in db.session.scalars(select(SyncRecord))}


def statuses(app):
    with app.app_context():
        return dict(db.session.execute(select(SyncRecord.source_key, SyncRecord.status)).all())


def shown_counts(html):
    return {s: int(n) for s, n in re.findall(r'data-count="(\w+)">\w+\s*<span[^>]*data-n="(\d+)"', html)}


def shown_keys(html):
    return re.findall(r"<code>([^<]+)</code>", html)


def test_the_page_counts_filters_and_searches(admin, rows):
    page = admin.client.get("/records/").get_data(as_text=True)
    assert shown_counts(page) == {"pending": 0, "synced": 3, "failed": 3, "skipped": 1, "ignored": 1}
    assert shown_counts(admin.client.get("/records/?connector=shop").get_data(as_text=True))["failed"] == 1
    assert sorted(shown_keys(page)) == sorted(rows)
    crm = admin.client.get("/records/?connector=crm&status=failed").get_data(as_text=True)
    assert shown_keys(crm) == ["c4", "c5"]
    assert shown_keys(admin.client.get("/records/?q=MOBILE").get_data(as_text=True)) == ["c4", "o1"]
    assert shown_keys(admin.client.get("/records/?stream=orders&q=o2").get_data(as_text=True)) == ["o2"]
    assert shown_keys(admin.client.get("/records/?q=%25").get_data(as_text=True)) == []  # a literal %, not a wildcard
    assert '<option value="shop"' in page and '<option value="orders"' in page


def test_bad_filters_are_a_clear_400(admin, rows):
    response = admin.client.get("/records/?status=nonsense")
    assert response.status_code == 400 and "must be one of" in response.get_data(as_text=True)
    assert admin.client.get("/records/?q=" + "x" * 201).status_code == 400
    assert admin.client.get("/records/export.csv?status=nonsense").status_code == 400


def test_the_csv_export_streams_the_filtered_rows(admin, rows):
    response = admin.client.get("/records/export.csv?connector=crm&status=failed")
    assert response.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table[0][:5] == ["id", "connector", "stream", "source_key", "status"]
    assert [r[3] for r in table[1:]] == ["c4", "c5"]
    assert table[2][6] == "'=HYPERLINK(evil)"  # a spreadsheet must not run it


def test_retry_all_matching_the_filter_touches_only_those_and_is_audited(app, admin, rows):
    response = admin.post("/records/retry", data={"all": "1", "connector": "crm", "status": "failed"})
    assert response.status_code == 303 and response.location.endswith("/records/?connector=crm&status=failed")
    now = statuses(app)
    assert (now["c4"], now["c5"], now["c6"], now["o1"], now["c1"]) == ("pending", "pending", "skipped", "failed", "synced")
    page = admin.client.get(response.location).get_data(as_text=True)
    assert "2 record(s) set back to pending" in page
    with app.app_context():
        entry = db.session.scalars(select(Activity).where(Activity.action == "retry")).one()
        assert entry.username == "alice" and "2 record(s)" in entry.detail


def test_ticked_and_single_record_actions(app, admin, rows):
    assert admin.post("/records/ignore", data={"ids": [rows["c4"], rows["c6"], rows["c1"]]}).status_code == 303
    now = statuses(app)
    assert (now["c4"], now["c6"], now["c1"]) == ("ignored", "ignored", "synced")  # a synced record is not ignored
    single = admin.post(f"/records/retry?ids={rows['o2']}&stream=orders")  # a row's own button
    assert single.status_code == 303 and single.location.endswith("/records/?stream=orders")
    assert statuses(app)["o2"] == "pending"
    with app.app_context():
        assert push.counts("shop") == {"pending": 1, "synced": 0, "failed": 1, "skipped": 0, "ignored": 0}
        assert [a for a, in db.session.execute(select(Activity.action).order_by(Activity.id))][-2:] == ["ignore", "retry"]


def test_bad_action_input_is_a_clear_400(admin, rows):
    response = admin.post("/records/retry", data={})
    assert response.status_code == 400 and "Tick at least one record" in response.get_data(as_text=True)
    assert admin.post("/records/ignore", data={"ids": ["abc"]}).status_code == 400
    assert admin.post("/records/retry", data={"all": "1", "status": "bogus"}).status_code == 400


def test_a_viewer_sees_the_records_but_cannot_change_them(app, auth, rows):
    with app.app_context():
        create_user("vic", roles=("viewer",))
    auth.login("vic")
    page = auth.client.get("/records/")
    assert page.status_code == 200 and "Retry ticked" not in page.get_data(as_text=True)
    assert auth.post("/records/retry", data={"ids": [rows["c4"]]}).status_code == 403
    assert auth.post("/records/ignore", data={"all": "1"}).status_code == 403
    assert statuses(app)["c4"] == "failed"
