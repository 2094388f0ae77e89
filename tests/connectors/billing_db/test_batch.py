"""billing.bill_stop_batch against the fake CC&B: counts checked against the source tables."""
import shutil
import sqlite3
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, make_url, select, text

from app.connectors.billing_db import partitions
from app.connectors.billing_db.batch import billing_window
from app.connectors.billing_db.models import BillStopBatch, BillStopDetail, BillStopSummary
from app.extensions import db
from app.fakes.billing import create_and_seed
from app.runs.models import Run
from app.runs.service import cancel
from tests.conftest import is_postgres, put_settings, requires_postgres, wait_for
from tests.connectors.billing_db.conftest import ran_batch, source_engine, source_url
from tests.runs.helpers import run_job
from tests.runs.helpers import get_run, queue, wait_status

CPC_PARENTS = text("""
    SELECT s.acct_id, TRIM(c.adhoc_char_val) FROM ci_sa s
    JOIN ci_sa_sp ss ON ss.sa_id = s.sa_id JOIN ci_sp_char c ON c.sp_id = ss.sp_id
    WHERE c.char_type_cd = 'CM_CPRLA' AND c.effdt = (SELECT MAX(c2.effdt) FROM ci_sp_char c2
                                                     WHERE c2.sp_id = c.sp_id AND c2.char_type_cd = 'CM_CPRLA')
      AND EXISTS (SELECT 1 FROM ci_sp_char f WHERE f.sp_id = c.sp_id AND f.char_type_cd = 'CM-CPRCP'
                  AND TRIM(f.adhoc_char_val) = 'CPC')""")
ACTIVE = text("SELECT DISTINCT acct_id FROM ci_sa WHERE sa_status_flg IN ('20', '50')")
BILLED = text("""SELECT DISTINCT s.acct_id FROM ci_sa s JOIN ci_bseg b ON b.sa_id = s.sa_id
                 WHERE b.bseg_stat_flg = '50' AND b.end_dt >= :start AND b.end_dt < :end""")


def expected_per_crp(url, window):
    """(CPCs, bill stops) per CRP, from plain queries over the source tables."""
    engine = source_engine(url)
    with engine.connect() as conn:
        parents = {acct.strip(): crp for acct, crp in conn.execute(CPC_PARENTS)}
        active = {a.strip() for a in conn.scalars(ACTIVE)}
        billed = {a.strip() for a in conn.scalars(BILLED, {"start": window[0], "end": window[1]})}
    engine.dispose()
    totals, stops = Counter(parents.values()), Counter()
    for acct, crp in parents.items():
        if acct in active and acct not in billed:
            stops[crp] += 1
    return totals, stops


def visible_batch(app):
    with app.app_context():
        batch = db.session.scalars(select(BillStopBatch).where(BillStopBatch.status == "completed")
                                   .order_by(BillStopBatch.id.desc())).first()
        if batch:
            db.session.expunge(batch)
        return batch


def test_batch_counts_per_crp_match_the_source(app, billing, executor):
    run = run_job(app, "billing.bill_stop_batch")
    assert run.status == "succeeded", run.reason
    batch = visible_batch(app)
    totals, stops = expected_per_crp(billing, billing_window(date.today(), 0))
    with app.app_context():
        summary = {s.crp_account_no: s for s in db.session.scalars(
            select(BillStopSummary).where(BillStopSummary.batch_id == batch.id))}
        details = db.session.scalar(select(func.count()).where(BillStopDetail.batch_id == batch.id))
    assert {crp: s.total_cpc_count for crp, s in summary.items()} == dict(totals)
    assert {crp: s.bill_stop_count for crp, s in summary.items() if s.bill_stop_count} == dict(stops)
    assert details == sum(totals.values()) == batch.details_count
    assert batch.bill_stop_count == sum(stops.values()) > 0
    assert run.progress_done == run.progress_total == details
    assert f"{sum(stops.values()):,} bill stops" in run.summary


def test_window_of_last_n_days_is_a_setting(app, billing, executor):
    put_settings(app, billing_window_days=3)
    run = run_job(app, "billing.bill_stop_batch")
    assert run.status == "succeeded", run.reason
    _totals, stops = expected_per_crp(billing, billing_window(date.today(), 3))
    assert visible_batch(app).bill_stop_count == sum(stops.values())


def _rows_of(app, batch_id):
    with app.app_context():
        return (db.session.scalar(select(func.count()).where(BillStopDetail.batch_id == batch_id)),
                db.session.scalar(select(func.count()).where(BillStopSummary.batch_id == batch_id)))


def _own_table_left(app, batch_id):
    """On PostgreSQL a batch writes into a table of its own: one left behind, attached or not, is a trace."""
    with app.app_context(), db.engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            return False
        return conn.scalar(text("SELECT to_regclass(:n)"), {"n": partitions.name(batch_id)}) is not None


def _batch_in_flight(app, at_rows):
    """Queue a batch and return its run id once it has streamed at least `at_rows` rows."""
    run_id, _ = queue(app, "billing.bill_stop_batch")
    wait_for(lambda: get_run(app, run_id).progress_done >= at_rows, timeout=60, message=f"{at_rows} rows streamed")
    return run_id


def _assert_previous_batch_kept(app, previous, run):
    assert visible_batch(app).id == previous.id
    with app.app_context():
        ended = db.session.scalars(select(BillStopBatch).order_by(BillStopBatch.id.desc())).first()
    assert ended.status == run.status and ended.error and ended.run_id == run.id
    assert _rows_of(app, ended.id) == (0, 0) and not _own_table_left(app, ended.id)
    assert _rows_of(app, previous.id)[0] == previous.details_count


@pytest.fixture
def previous(app, billing, executor):
    """One good batch, then a slowed stream (small chunks with a pause) so tests can act mid-batch."""
    assert run_job(app, "billing.bill_stop_batch").status == "succeeded"
    app.config.update(BILLING_CHUNK_ROWS=100, BILLING_CHUNK_PAUSE_SECONDS=0.05)
    return visible_batch(app)


def test_cancel_mid_batch_keeps_previous_batch_and_leaves_no_rows(app, previous):
    run_id = _batch_in_flight(app, 300)
    with app.app_context():
        cancel(db.session.get(Run, run_id), "tester")
        db.session.commit()
    run = wait_status(app, run_id, "cancelled", "failed", "succeeded")
    assert run.status == "cancelled"
    _assert_previous_batch_kept(app, previous, run)


@pytest.fixture(scope="session")
def big_pg_source(tmp_path_factory):
    """~10 MB of result rows: more than the sockets buffer, so COPY is still sending when we cut it."""
    url = source_url(tmp_path_factory.mktemp("ccb_big"), "_ccb_big")
    create_and_seed(url, today=date.today(), crps=20, cpcs=100_000, seed=11)
    return url


@requires_postgres
def test_connection_dropped_mid_stream_fails_batch_and_leaves_no_rows(app, previous, big_pg_source):
    app.config.update(BILLING_DB_URL=big_pg_source)
    run_id = _batch_in_flight(app, 300)
    source = source_engine(big_pg_source)
    with source.connect() as conn:
        killed = conn.scalar(text("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    source.dispose()
    assert killed >= 1
    run = wait_status(app, run_id, "failed", "succeeded", "cancelled", timeout=60)
    assert run.status == "failed" and "Lost the connection to the billing database after " in run.reason
    _assert_previous_batch_kept(app, previous, run)


def test_error_raised_by_the_source_mid_stream_fails_batch(app, billing, previous, tmp_path):
    """A value the source cannot hand over (a corrupt date) surfaces part-way through the stream."""
    if not billing.startswith("sqlite"):
        pytest.skip("corrupting a typed column needs SQLite's loose typing; PostgreSQL drops the connection above")
    broken = tmp_path / "broken.db"
    shutil.copy(billing.removeprefix("sqlite:///"), broken)
    with sqlite3.connect(broken) as conn:
        conn.execute("""UPDATE ci_bseg SET end_dt = 'not-a-date' WHERE bseg_id = (
            SELECT MAX(b.bseg_id) FROM ci_bseg b JOIN ci_sa_sp ss ON ss.sa_id = b.sa_id
            JOIN ci_sp_char c ON c.sp_id = ss.sp_id
            WHERE b.bseg_stat_flg = '50' AND c.char_type_cd = 'CM-CPRCP' AND TRIM(c.adhoc_char_val) = 'CPC')""")
    app.config.update(BILLING_DB_URL=f"sqlite:///{broken}")
    run = run_job(app, "billing.bill_stop_batch")
    assert run.status == "failed" and "not-a-date" in run.reason
    _assert_previous_batch_kept(app, previous, run)


def test_unconfigured_source_fails_with_a_clear_reason(app, executor):
    app.config.update(BILLING_DB_URL="")
    run = run_job(app, "billing.bill_stop_batch")
    assert run.status == "failed" and "BILLING_DB_URL" in run.reason


def test_batch_counts_match_on_mariadb(app, executor):
    """The same Core query on a third dialect (MariaDB strips CHAR padding on read; the query trims anyway)."""
    pytest.importorskip("pymysql")
    from app.fakes.billing import create_and_seed
    from tests.connectors.billing_db.conftest import mariadb_url
    create_and_seed(mariadb_url, today=date.today(), crps=8, cpcs=400, seed=3)
    app.config.update(BILLING_DB_URL=mariadb_url, BILLING_CHUNK_ROWS=100)
    run = run_job(app, "billing.bill_stop_batch", timeout=180)
    assert run.status == "succeeded", run.reason
    totals, stops = expected_per_crp(mariadb_url, billing_window(date.today(), 0))
    batch = visible_batch(app)
    with app.app_context():
        summary = {s.crp_account_no: (s.total_cpc_count, s.bill_stop_count) for s in db.session.scalars(
            select(BillStopSummary).where(BillStopSummary.batch_id == batch.id))}
    assert summary == {crp: (n, stops.get(crp, 0)) for crp, n in totals.items()}


def test_only_the_last_n_batch_dates_are_kept(app, billing, executor):
    """Seed 001's 'multiple batch dates': a setting says how many; older ones lose their rows, not their log."""
    from datetime import timedelta

    put_settings(app, billing_keep_batches=2)
    ids = []
    for days_ago in (2, 1, 0):
        assert run_job(app, "billing.bill_stop_batch").status == "succeeded"
        with app.app_context():   # date this batch as if it had run `days_ago` days ago
            batch = db.session.scalars(select(BillStopBatch).order_by(BillStopBatch.id.desc())).first()
            batch.batch_date = date.today() - timedelta(days=days_ago)
            db.session.commit()
            ids.append(batch.id)
    with app.app_context():
        statuses = {b.id: b.status for b in db.session.scalars(select(BillStopBatch))}
    # The third batch pushed the oldest date out (two kept: yesterday's and today's).
    assert [statuses[i] for i in ids] == ["expired", "completed", "completed"]
    assert _rows_of(app, ids[0]) == (0, 0) and _rows_of(app, ids[1])[0] > 0
    assert not _own_table_left(app, ids[0]) and _own_table_left(app, ids[1]) == is_postgres()


@requires_postgres
def test_a_long_reader_of_the_details_never_blocks_a_batch(app, billing, executor):
    """An export reading the shown batch holds a lock that dropping its partition would wait on: the
    next batch deletes the rows instead, and a later batch drops the emptied table."""
    first = ran_batch(app)
    with app.app_context(), db.engine.connect() as reader:
        assert reader.scalar(select(func.count()).where(BillStopDetail.batch_id == first.id)) > 0  # stays open
        second = ran_batch(app)  # same date: it supersedes the first
        assert _rows_of(app, first.id) == (0, 0) and _own_table_left(app, first.id)
        reader.rollback()
    third = ran_batch(app)
    assert not _own_table_left(app, first.id) and not _own_table_left(app, second.id)
    assert _rows_of(app, third.id)[0] == third.details_count > 0


@requires_postgres
def test_tables_under_an_owner_schema_are_read_through_billing_db_schema(app, executor, tmp_path):
    """CC&B's tables belong to CISADM; a login user without synonyms must name that schema."""
    url = source_url(tmp_path, "_ccb_owner")
    engine = source_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS cisadm CASCADE; CREATE SCHEMA cisadm"))
    engine.dispose()
    as_owner = make_url(url).update_query_dict({"options": "-csearch_path=cisadm"}).render_as_string(False)
    create_and_seed(as_owner, today=date.today(), crps=4, cpcs=300, seed=5)
    app.config.update(BILLING_DB_URL=url, BILLING_DB_SCHEMA="")
    run = run_job(app, "billing.bill_stop_batch")
    assert run.status == "failed" and "does not exist" in run.reason
    app.config.update(BILLING_DB_SCHEMA="cisadm")
    run = run_job(app, "billing.bill_stop_batch")
    assert run.status == "succeeded", run.reason
    totals, stops = expected_per_crp(as_owner, billing_window(date.today(), 0))
    batch = visible_batch(app)
    assert (batch.details_count, batch.bill_stop_count) == (sum(totals.values()), sum(stops.values()))


@requires_postgres
def test_awkward_text_crosses_the_copy_relay_unchanged(app, executor, tmp_path):
    """PostgreSQL → PostgreSQL rows travel as the source's COPY CSV: quotes, commas, line breaks and
    non-ASCII letters must arrive exactly as CC&B holds them."""
    url = source_url(tmp_path, "_ccb_text")
    create_and_seed(url, today=date.today(), crps=3, cpcs=200, seed=9)
    names = ['Zoë "the boss" Ñúñez, Jr.', "Line one\nline two", "Back\\slash; tab\there"]
    engine = source_engine(url)
    with engine.begin() as conn:
        accounts = conn.execute(text("""
            SELECT ap.acct_id, pn.per_id FROM ci_acct_per ap JOIN ci_per_name pn ON pn.per_id = ap.per_id
            JOIN ci_sa s ON s.acct_id = ap.acct_id JOIN ci_sa_sp ss ON ss.sa_id = s.sa_id
            JOIN ci_sp_char c ON c.sp_id = ss.sp_id AND c.char_type_cd = 'CM-CPRCP' AND TRIM(c.adhoc_char_val) = 'CPC'
            WHERE ap.main_cust_sw = 'Y' AND pn.prim_name_sw = 'Y' ORDER BY ap.acct_id LIMIT 3""")).all()
        for (_acct, per_id), name in zip(accounts, names):
            conn.execute(text("UPDATE ci_per_name SET entity_name = :n WHERE per_id = :p AND prim_name_sw = 'Y'"),
                         {"n": name, "p": per_id})
    engine.dispose()
    app.config.update(BILLING_DB_URL=url)
    batch = ran_batch(app)
    with app.app_context():
        stored = dict(db.session.execute(select(BillStopDetail.cpc_customer_no, BillStopDetail.customer_name).where(
            BillStopDetail.batch_id == batch.id, BillStopDetail.cpc_customer_no.in_([a.strip() for a, _ in accounts]))
        ).all())
    assert stored == {acct.strip(): name for (acct, _), name in zip(accounts, names)}
