"""uisp.refresh against the fake UISP over HTTP: a full snapshot, atomic, removing what vanished."""
import pytest
from sqlalchemy import func, select

from app.connectors.uisp.models import (Customer, Invoice, Payment, PaymentCover, PaymentPattern, Service)
from app.extensions import db
from app.runs.models import Run
from tests.runs.helpers import run_job
from tests.runs.helpers import get_run, queue, wait_status

CACHE = (Customer, Service, Invoice, Payment, PaymentCover, PaymentPattern)


def count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def cache_rows(app):
    """Every row of every cache table, in key order: what 'unchanged' is compared against."""
    with app.app_context():
        rows = {}
        for model in CACHE:
            table = model.__table__
            rows[table.name] = [tuple(r) for r in db.session.execute(
                select(table).order_by(*table.primary_key.columns))]
        db.session.rollback()
        return rows


def cached(app, model, key):
    with app.app_context():
        row = db.session.get(model, key)
        db.session.expunge_all()
        return row


def test_refresh_fills_cache_with_every_collection(app, uisp, refreshed):
    stats = uisp.stats()
    assert count(app, Customer) == stats["clients"]
    assert count(app, Service) == stats["services"]
    assert count(app, Invoice) == stats["invoices"]
    assert count(app, Payment) == stats["payments"]
    assert count(app, PaymentCover) > 0
    assert count(app, PaymentPattern) == stats["clients"]
    assert refreshed.summary == f"Refreshed {stats['clients']:,} customers"
    assert refreshed.rows_fetched >= stats["invoices"] + stats["payments"]


def test_refresh_reads_collections_not_four_calls_per_customer(app, uisp, executor):
    run = run_job(app, "uisp.refresh")
    requests = uisp.stats()["requests"]
    per_customer = [path for path in requests if path.rstrip("/").split("/")[-1].isdigit()]
    assert run.status == "succeeded" and per_customer == []
    stats = uisp.stats()
    # One request per page of 100, plus at most one look-ahead per worker past each collection's end.
    pages = sum(stats[k] // 100 + 1 + 4 for k in ("clients", "services", "invoices", "payments"))
    assert sum(n for path, n in requests.items() if path.startswith("/crm/")) <= pages < stats["clients"]


def test_progress_is_recorded_per_page(app, uisp, refreshed):
    assert refreshed.progress_done >= 4 + uisp.stats()["invoices"] // 100
    assert refreshed.progress_total == refreshed.progress_done


def test_second_refresh_changes_nothing(app, uisp, refreshed):
    before = cache_rows(app)
    run = run_job(app, "uisp.refresh")
    assert run.status == "succeeded", run.reason
    assert (run.rows_inserted, run.rows_updated, run.rows_deleted) == (0, 0, 0)
    assert cache_rows(app) == before


def test_services_of_every_status_are_cached(app, uisp, refreshed):
    """Seed 000 defect 2: only active services (status 1) were fetched, suspended ones went missing."""
    with app.app_context():
        statuses = set(db.session.scalars(select(Service.status).distinct()))
    assert statuses == set(range(9))


def test_invoice_fields_come_from_uisp_names(app, uisp, refreshed):
    """Seed 000 defect 3: wrong field names; the remaining amount is UISP's amountToPay."""
    source = uisp.get("/invoices", statuses=[2], limit=1)[0]
    row = cached(app, Invoice, source["id"])
    assert row.number == source["number"]
    assert row.total_cents == round(source["total"] * 100)
    assert row.paid_cents == round(source["amountPaid"] * 100)
    assert row.remaining_cents == round(source["amountToPay"] * 100) > 0
    assert row.due_date.isoformat() == source["dueDate"][:10]


def test_paying_an_invoice_at_the_source_shows_it_paid(app, uisp, refreshed):
    """Seed 000 defect 6: paid invoices showed as unpaid. Paid = nothing remains, after a refresh."""
    source = uisp.get("/invoices", statuses=[1], limit=1)[0]
    assert cached(app, Invoice, source["id"]).remaining_cents > 0
    uisp.post(f"invoices/{source['id']}/pay")
    assert run_job(app, "uisp.refresh").status == "succeeded"
    row = cached(app, Invoice, source["id"])
    assert (row.remaining_cents, row.status, row.is_paid) == (0, 3, True)


def test_archived_client_is_marked_and_deleted_rows_go(app, uisp, refreshed):
    """Seed 000 defect 1: archived customers lingered; the refresh must see isArchived=1 clients."""
    client = uisp.get("/clients", limit=1, offset=5)[0]
    assert cached(app, Customer, client["id"]).is_archived is False
    uisp.post(f"clients/{client['id']}/archive")
    run = run_job(app, "uisp.refresh")
    assert run.status == "succeeded" and run.rows_updated >= 1
    assert cached(app, Customer, client["id"]).is_archived is True


def test_rows_gone_from_the_source_are_removed(app, uisp, refreshed):
    with app.app_context():
        db.session.add(Invoice(id=10_000_000, client_id=1, number="GHOST", status=1, remaining_cents=500))
        db.session.add(Customer(id=10_000_000, name="Ghost"))
        db.session.commit()
    run = run_job(app, "uisp.refresh")
    assert run.status == "succeeded" and run.rows_deleted == 2
    assert cached(app, Invoice, 10_000_000) is None and cached(app, Customer, 10_000_000) is None


@pytest.mark.parametrize("fault", [
    {"error_rate": 1.0, "error_status": 500},   # every retry of page k fails too
    {"malformed_json": True},
], ids=["500-after-retries", "malformed-json"])
def test_fault_at_page_k_fails_and_leaves_cache_unchanged(app, uisp, refreshed, fault):
    uisp.post(f"invoices/{uisp.get('/invoices', statuses=[1], limit=1)[0]['id']}/pay")   # a change to lose
    before = cache_rows(app)
    uisp.faults(fail_path_prefix="/crm/api/v1.0/invoices", from_request=3, **fault)
    run = run_job(app, "uisp.refresh")
    assert run.status == "failed"
    expected = "500: Internal server error." if "error_rate" in fault else "malformed JSON for GET /invoices"
    assert expected in run.reason
    assert cache_rows(app) == before
    with app.app_context():
        from app.connectors.uisp.models import STAGING
        assert all(db.session.scalar(select(func.count()).select_from(t)) == 0 for t in STAGING.values())


def test_a_single_failed_request_is_retried(app, uisp, refreshed):
    uisp.faults(fail_path_prefix="/crm/api/v1.0/payments", fail_at_request=2)
    run = run_job(app, "uisp.refresh")
    assert run.status == "succeeded", run.reason
    assert uisp.stats()["requests"]["/crm/api/v1.0/payments"] >= 4


def test_unconfigured_uisp_fails_with_a_clear_reason(app, executor):
    app.config.update(UISP_BASE_URL="")
    run = run_job(app, "uisp.refresh")
    assert run.status == "failed" and "UISP_BASE_URL" in run.reason


def test_wrong_app_key_fails_with_the_api_message(app, uisp, executor):
    app.config.update(UISP_APP_KEY="not-the-key")
    run = run_job(app, "uisp.refresh")
    assert run.status == "failed"
    assert "401: User authentication failed." in run.reason


def test_terminate_mid_refresh_leaves_cache_unchanged(app, uisp, refreshed):
    before = cache_rows(app)
    uisp.post(f"clients/{uisp.get('/clients', limit=1)[0]['id']}/archive")
    uisp.faults(latency_ms=150, fail_path_prefix="/crm/api/v1.0/invoices")
    run_id, _ = queue(app, "uisp.refresh")
    wait_status(app, run_id, "running")
    from tests.conftest import wait_for
    wait_for(lambda: get_run(app, run_id).progress_done >= 5, message="a few pages staged")
    with app.app_context():
        from app.runs.service import cancel
        cancel(db.session.get(Run, run_id), "tester")
        db.session.commit()
    run = wait_status(app, run_id, "cancelled", "failed", "succeeded")
    assert run.status == "cancelled"
    assert cache_rows(app) == before


def test_refresh_customer_updates_only_that_customer(app, uisp, refreshed):
    client = uisp.get("/clients", limit=1, offset=3)[0]
    other = uisp.get("/invoices", statuses=[1], limit=5)
    mine = uisp.get("/invoices", clientId=client["id"], statuses=[1, 2])
    others = [i for i in other if i["clientId"] != client["id"]][:1]
    for invoice in mine + others:
        uisp.post(f"invoices/{invoice['id']}/pay")
    uisp.post(f"clients/{client['id']}/archive")
    run = run_job(app, "uisp.refresh_customer", {"client_id": client["id"]})
    assert run.status == "succeeded", run.reason
    assert cached(app, Customer, client["id"]).is_archived is True
    for invoice in mine:
        assert cached(app, Invoice, invoice["id"]).remaining_cents == 0
    for invoice in others:   # not refreshed: still as the last full refresh saw it
        assert cached(app, Invoice, invoice["id"]).remaining_cents > 0
    assert count(app, Customer) == uisp.stats()["clients"]
    with app.app_context():
        assert db.session.get(PaymentPattern, client["id"]).missed_count == 0


def test_refresh_customer_of_a_deleted_client_removes_it(app, uisp, refreshed):
    with app.app_context():
        db.session.add(Customer(id=9_999_999, name="Gone"))
        db.session.add(Invoice(id=9_999_999, client_id=9_999_999, number="X", status=1))
        db.session.commit()
    run = run_job(app, "uisp.refresh_customer", {"client_id": 9_999_999})
    assert run.status == "succeeded" and "gone from UISP" in run.summary
    assert cached(app, Customer, 9_999_999) is None and cached(app, Invoice, 9_999_999) is None


def test_refresh_runs_are_single_flight(app, uisp, executor):
    """Seed 000: no server-side guard against concurrent refreshes."""
    first, created = queue(app, "uisp.refresh")
    second, created_again = queue(app, "uisp.refresh")
    assert created and not created_again and first == second
    wait_status(app, first, "succeeded")
    assert count(app, Run, Run.job_id == "uisp.refresh") == 1
