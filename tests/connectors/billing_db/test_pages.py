"""The bill-stop pages over batches really run against the fake CC&B: analysis, trigger, history, compare."""
import html as html_lib
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text, update

from app.connectors.billing_db.batch import billing_window
from app.connectors.billing_db.models import BillStopBatch, BillStopDetail, BillStopSummary
from app.extensions import db
from app.fakes.billing import create_and_seed
from app.runs.models import Run
from tests.conftest import create_user
from tests.connectors.billing_db.conftest import ran_batch, source_engine, source_url
from tests.runs.helpers import run_job
from tests.runs.helpers import count_runs, wait_status

JOB = "billing.bill_stop_batch"


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def stat(body, name):
    match = re.search(rf'data-stat="{name}".*?data-value>([^<]+)<', body, re.S)
    assert match, f"no statistics card {name}"
    return match.group(1).strip()


def totals(body):
    """The 'N in all' of each paged table on the page, in page order."""
    return [int(n) for n in re.findall(r'data-total="(\d+)"', body)]


def table_rows(body, table_id, attr):
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', body, re.S)
    assert table, f"no table {table_id}"
    return re.findall(rf'<tr {attr}="([^"]+)"', table.group(0))


def fetch_post(auth, url):
    """POST as the run panel (app.js) does: JSON body, Accept JSON, the CSRF token in a header."""
    return auth.client.post(url, json={}, headers={"X-CSRFToken": auth.csrf("/billing/"), "Accept": "application/json"})


def details(app, batch_id, **where):
    with app.app_context():
        query = select(BillStopDetail).where(BillStopDetail.batch_id == batch_id)
        for name, value in where.items():
            query = query.where(getattr(BillStopDetail, name) == value)
        rows = db.session.scalars(query).all()
        for row in rows:
            db.session.expunge(row)
        return rows


# --- analysis ----------------------------------------------------------------------------------------------

def test_analysis_shows_the_visible_batchs_statistics_and_info(app, admin, billing, executor):
    ran_batch(app)
    batch = ran_batch(app)  # a same-date rerun supersedes the first: the page shows the second
    with app.app_context():
        crps = db.session.scalar(select(func.count()).where(BillStopSummary.batch_id == batch.id))
    cpcs = len(details(app, batch.id))
    stops = len(details(app, batch.id, is_bill_stop=True))
    body = page(admin.client, "/billing/")
    assert stat(body, "crps") == f"{crps:,}" and stat(body, "cpcs") == f"{cpcs:,}"
    assert stat(body, "bill_stops") == f"{stops:,}" and stops > 0
    assert stat(body, "bill_stop_percentage") == f"{stops * 100 / cpcs:.2f} %"
    start, end = billing_window(date.today(), 0)
    assert f"{start} – {end - timedelta(days=1)}" in body and str(batch.batch_date) in body
    assert "Auto-updates daily at 02:00" in body and "Next scheduled run" in body
    assert re.search(r'data-field="next-run">\d{4}-\d\d-\d\d 02:00<', body)
    assert "Data as of" in body and '<div id="data-area" hx-trigger="run-succeeded from:body' in body
    assert re.search(r'<a class="nav-link active" href="/billing/">Bill stops</a>', body)


def test_summary_is_sorted_by_bill_stops_and_paged(app, admin, billing, executor, monkeypatch):
    from app.connectors.billing_db import routes
    monkeypatch.setattr(routes, "SUMMARY_PER_PAGE", 5)
    batch = ran_batch(app)
    with app.app_context():
        expected = db.session.execute(select(BillStopSummary.crp_account_no, BillStopSummary.bill_stop_count)
                                      .where(BillStopSummary.batch_id == batch.id)).all()
    expected.sort(key=lambda r: (-r[1], r[0]))
    shown = []
    for spage in (1, 2):
        body = page(admin.client, f"/billing/?spage={spage}")
        shown += table_rows(body, "summary-table", "data-crp")
        assert totals(body)[0] == len(expected)
    assert shown == [crp for crp, _ in expected[:10]]
    assert page(admin.client, "/billing/?spage=x", 400)


def test_details_filters_and_pagination(app, admin, billing, executor):
    batch = ran_batch(app)
    rows = details(app, batch.id)
    stops = sorted((d.cpc_customer_no for d in rows if d.is_bill_stop), reverse=True)
    first = page(admin.client, "/billing/?per_page=25")
    second = page(admin.client, "/billing/?per_page=25&page=2")
    listed = table_rows(first, "details-table", "data-cpc") + table_rows(second, "details-table", "data-cpc")
    assert listed == stops[:50]  # bill stops first, by CPC number
    assert totals(first)[1] == len(rows)

    crp = max({d.crp_account_no for d in rows}, key=lambda c: sum(d.crp_account_no == c for d in rows))
    body = page(admin.client, f"/billing/?crp={crp}&per_page=100")
    assert totals(body)[1] == sum(d.crp_account_no == crp for d in rows)
    under_crp = {d.cpc_customer_no for d in rows if d.crp_account_no == crp}
    assert set(table_rows(body, "details-table", "data-cpc")) <= under_crp

    body = page(admin.client, "/billing/?status=Active+Billing")
    assert totals(body)[1] == sum(d.billing_status == "Active Billing" for d in rows)
    assert 'data-billing-status="Bill Stop"' not in body.split('id="details-table"')[1]

    named = next(d for d in rows if d.customer_name and d.legacy_no)
    for q in (named.cpc_customer_no, named.legacy_no):
        assert named.cpc_customer_no in table_rows(page(admin.client, f"/billing/?q={q}"), "details-table", "data-cpc")
    word = named.customer_name.split(",")[0][1:4].upper()
    expected = {d.cpc_customer_no for d in rows if word.lower() in (d.customer_name or "").lower()
                or word in d.cpc_customer_no or word.lower() in (d.legacy_no or "").lower()}
    body = page(admin.client, f"/billing/?q={word}&per_page=100")
    assert totals(body)[1] == len(expected) and set(table_rows(body, "details-table", "data-cpc")) <= expected
    assert page(admin.client, "/billing/?status=Nope", 400) and page(admin.client, "/billing/?per_page=7", 400)


def test_empty_state_before_any_batch(app, admin):
    body = page(admin.client, "/billing/")
    assert "No batch yet — Refresh Data or wait for 02:00" in body
    assert 'id="statistics"' not in body and 'id="refresh-batch"' in body
    assert admin.client.get("/billing/export.csv").status_code == 404


# --- Refresh Data ------------------------------------------------------------------------------------------

def test_trigger_needs_trigger_runs(app, auth):
    with app.app_context():
        create_user("vera", roles=("viewer",))
    auth.login("vera")
    assert 'id="refresh-batch"' not in page(auth.client, "/billing/")
    response = fetch_post(auth, "/billing/batch/trigger")
    assert response.status_code == 403 and "trigger_runs" in response.get_json()["error"]
    assert count_runs(app, job_id=JOB) == 0


def test_second_trigger_answers_with_the_run_in_flight(app, admin):
    first = fetch_post(admin, "/billing/batch/trigger")
    assert first.status_code == 202, first.get_data(as_text=True)
    data = first.get_json()["run"]
    data["run_id"] = data["id"]
    assert first.get_json()["created"] == [data["id"]] and data["url"] == f"/runs/{data['id']}"
    second = fetch_post(admin, "/billing/batch/trigger")
    assert second.status_code == 200 and second.get_json()["run"]["id"] == data["id"]
    assert second.get_json()["created"] == [] and count_runs(app, job_id=JOB) == 1
    with app.app_context():  # as the runner reports it part-way through
        db.session.execute(update(Run).where(Run.id == data["run_id"]).values(
            status="running", progress_done=500, progress_total=2000, progress_message="500 CPC rows read"))
        db.session.commit()
    body = page(admin.client, "/billing/")  # the page shows the run in flight, then its run panel polls it
    assert f'hx-get="/fragments/runs/{data["run_id"]}/panel" hx-trigger="every 800ms"' in body
    assert 'hx-target="#batch-run"' in body
    assert 'style="width: 25%"' in body and "500 / 2,000" in body and "500 CPC rows read" in body
    form = admin.post("/billing/batch/trigger")  # without JavaScript: a redirect back to the page
    assert form.status_code == 303 and form.headers["Location"].endswith("/billing/")


def test_refresh_runs_the_batch_and_the_page_shows_it(app, admin, billing, executor):
    data = fetch_post(admin, "/billing/batch/trigger").get_json()["run"]
    run = wait_status(app, data["id"], "succeeded", "failed", timeout=60)
    assert run.status == "succeeded", run.reason
    assert run.requested_by == "alice" and run.trigger == "manual"
    body = page(admin.client, "/billing/")
    with app.app_context():
        batch = db.session.scalars(select(BillStopBatch).where(BillStopBatch.run_id == run.id)).one()
    assert stat(body, "cpcs") == f"{batch.details_count:,}" and '<div id="batch-run" class="mb-3 col-xl-8"></div>' in body


# --- history -------------------------------------------------------------------------------------------------

def test_history_lists_a_failed_batch_with_its_error(app, admin, billing, executor):
    good = ran_batch(app)
    app.config.update(BILLING_DB_URL="sqlite:////nonexistent/dir/x.db")
    run = run_job(app, JOB)
    assert run.status == "failed"
    with app.app_context():
        failed = db.session.scalars(select(BillStopBatch).where(BillStopBatch.run_id == run.id)).one()
    body = page(admin.client, "/billing/batches")
    assert table_rows(body, "batches-table", "data-batch-id") == [str(failed.id), str(good.id)]
    row = re.search(rf'<tr data-batch-id="{failed.id}">.*?</tr>', body, re.S).group(0)
    assert 'data-batch-status="failed"' in row and f"/runs/{run.id}" in row
    assert f'title="{html_lib.escape(failed.error)}"' in row and "unable to open database" in failed.error
    assert 'data-role="view"' not in row
    good_row = re.search(rf'<tr data-batch-id="{good.id}">.*?</tr>', body, re.S).group(0)
    assert f"/billing/?batch={good.id}" in good_row
    analysis = page(admin.client, "/billing/")  # the last good batch stays, with a word about the failure
    assert 'id="batch-failure"' in analysis and stat(analysis, "cpcs") == f"{good.details_count:,}"


# --- two kept batches: an older one and the comparison ----------------------------------------------------

def _change_source(url, billed_cpcs, stopped_cpc):
    """Drop this month's frozen segments of some billed CPCs; bill one bill stop today."""
    start, end = billing_window(date.today(), 0)
    sas = "SELECT sa_id FROM ci_sa WHERE acct_id = :acct"
    engine = source_engine(url)
    with engine.begin() as conn:
        for acct in billed_cpcs:
            conn.execute(text(f"DELETE FROM ci_bseg WHERE bseg_stat_flg = '50' AND end_dt >= :s AND end_dt < :e "
                              f"AND sa_id IN ({sas})"), {"s": start, "e": end, "acct": acct})
        changed = conn.execute(text(f"UPDATE ci_bseg SET end_dt = :today WHERE bseg_stat_flg = '50' "
                                    f"AND end_dt = :last AND sa_id IN ({sas})"),
                               {"today": date.today(), "last": stopped_cpc.last_bill_date,
                                "acct": stopped_cpc.cpc_customer_no}).rowcount
    engine.dispose()
    assert changed >= 1


@pytest.fixture
def two_batches(app, executor, tmp_path):
    """Batch a (relabelled yesterday, so it is kept) and batch b after the source changed: (a, b, new, resolved)."""
    url = source_url(tmp_path, "_ccb_pages")
    create_and_seed(url, crps=6, cpcs=400, seed=11, today=date.today())
    app.config.update(BILLING_DB_URL=url, BILLING_CHUNK_ROWS=100)
    a = ran_batch(app)
    rows = details(app, a.id)
    new = sorted(d.cpc_customer_no for d in rows if d.billing_status == "Active Billing")[:3]
    start = billing_window(date.today(), 0)[0]
    resolved = next(d for d in sorted(rows, key=lambda d: d.cpc_customer_no)
                    if d.is_bill_stop and d.last_bill_date and d.last_bill_date < start)
    _change_source(url, new, resolved)
    with app.app_context():
        db.session.execute(update(BillStopBatch).where(BillStopBatch.id == a.id)
                           .values(batch_date=date.today() - timedelta(days=1)))
        db.session.commit()
    b = ran_batch(app)
    return a, b, new, [resolved.cpc_customer_no]


def test_batch_param_shows_an_older_kept_batch(app, admin, two_batches):
    a, b, new, resolved = two_batches
    assert b.bill_stop_count == a.bill_stop_count + len(new) - len(resolved)
    latest = page(admin.client, "/billing/")
    assert stat(latest, "bill_stops") == f"{b.bill_stop_count:,}" and 'id="older-batch"' not in latest
    older = page(admin.client, f"/billing/?batch={a.id}")
    assert stat(older, "bill_stops") == f"{a.bill_stop_count:,}" and 'id="older-batch"' in older
    assert set(new).isdisjoint(table_rows(page(admin.client, f"/billing/?batch={a.id}&status=Bill+Stop&per_page=100"),
                                          "details-table", "data-cpc"))
    assert f"export.csv?batch={a.id}" in older
    for bad in ("abc", "999999", "-1"):
        page(admin.client, f"/billing/?batch={bad}", 400)


def test_compare_shows_new_and_resolved_bill_stops(app, admin, two_batches):
    a, b, new, resolved = two_batches
    body = page(admin.client, "/billing/compare")  # defaults: the two latest kept batches
    assert re.search(r'data-count="new">3<', body) and re.search(r'data-count="resolved">1<', body)
    assert table_rows(body, "new-table", "data-cpc") == new
    assert table_rows(body, "resolved-table", "data-cpc") == resolved
    resolved_row = body.split('id="resolved-table"')[1]
    assert 'data-billing-status="Active Billing"' in resolved_row  # what it is in the newer batch
    swapped = page(admin.client, f"/billing/compare?a={b.id}&b={a.id}")
    assert table_rows(swapped, "new-table", "data-cpc") == resolved
    assert table_rows(swapped, "resolved-table", "data-cpc") == new
    for query in (f"a={a.id}&b={a.id}", "a=x", "b=424242", f"a={a.id}&npage=0"):
        page(admin.client, f"/billing/compare?{query}", 400)


def test_compare_needs_two_kept_batches(app, admin, billing, executor):
    assert 'id="compare-unavailable"' in page(admin.client, "/billing/compare")
    batch = ran_batch(app)
    body = page(admin.client, "/billing/compare")
    assert 'id="compare-unavailable"' in body and "one is kept" in body
    ran_batch(app)  # the same date again: the first batch is superseded and its rows are gone
    with app.app_context():
        assert db.session.get(BillStopBatch, batch.id).status == "superseded"
    page(admin.client, f"/billing/compare?a={batch.id}", 400)
