"""Bulk reconciliation: one deposit over many invoices, checked first, posted in batches, all or nothing."""
import io

from sqlalchemy import select

from app.connectors.banking.models import BulkReconciliation
from app.connectors.banking.statements import Line, write_camt053
from app.extensions import db
from tests.conftest import put_settings, wait_for
from tests.connectors.banking.conftest import day, import_file, lines, money, open_invoices
from tests.connectors.banking.test_import import statement
from tests.runs.helpers import get_run, latest_run, run_job, wait_status


def deposit(app, cents, ref="BULK0001"):
    entry = Line(booking_date=day(1), value_date=day(1), amount=money(cents), currency="ZAR", bank_reference=ref,
                 name="Karoo Reseller Network", remittance="Bulk payment")
    assert import_file(app, write_camt053([statement("camt053", [entry])]), f"{ref}.xml").status == "succeeded"
    return next(line for line in lines(app) if line.bank_reference == ref)


def allocation_csv(invoices, extra_cents=0):
    rows = "".join(f"{inv['number']},{money(inv['cents'] + (extra_cents if n == 0 else 0))}\n"
                   for n, inv in enumerate(invoices))
    return ("invoice_number,amount\n" + rows).encode()


def create(admin, line, invoices, **kw):
    return admin.post("/banking/bulk/new", data={"line": str(line.id),
                                                 "allocation": (io.BytesIO(allocation_csv(invoices, **kw)), "a.csv")},
                      content_type="multipart/form-data")


def recon_of(app, line):
    with app.app_context():
        recon = db.session.scalar(select(BulkReconciliation).where(BulkReconciliation.line_id == line.id))
        if recon is not None:
            db.session.expunge(recon)
        return recon


def start(app, admin, recon):
    assert admin.post(f"/banking/bulk/{recon.id}/start").status_code == 303
    return wait_status(app, latest_run(app, "banking.bulk_reconcile").id, "succeeded", "failed", "cancelled",
                       timeout=180)


def test_an_allocation_that_does_not_add_up_is_refused_with_every_reason_and_nothing_is_created(app, bank, admin):
    invoices = open_invoices(bank, 5)
    line = deposit(app, sum(i["cents"] for i in invoices))
    response = create(admin, line, invoices, extra_cents=500)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "add up to" in page and f"invoice {invoices[0]['number']} owes" in page
    assert recon_of(app, line) is None and bank.ours() == []


def test_a_deposit_pays_every_invoice_once_batch_by_batch_with_progress(app, bank, admin):
    put_settings(app, banking_bulk_batch_size=7)
    invoices = open_invoices(bank, 40)
    line = deposit(app, sum(i["cents"] for i in invoices))
    assert create(admin, line, invoices).status_code == 303
    recon = recon_of(app, line)
    assert (recon.status, recon.invoices_total) == ("draft", 40)
    run = start(app, admin, recon)
    assert run.status == "succeeded", run.reason
    assert (run.progress_done, run.progress_total) == (40, 40) and "40 of 40 invoices" in run.progress_message
    assert recon_of(app, line).status == "succeeded"
    paid = {p["invoiceIds"][0]: p["amountCents"] for p in bank.ours()}
    assert paid == {inv["id"]: inv["cents"] for inv in invoices}
    assert all(bank.get(f"/invoices/{inv['id']}")["amountToPay"] == 0 for inv in invoices)
    assert lines(app, id=line.id)[0].match_status == "bulk"


def test_a_refusal_part_way_deletes_every_payment_made_and_says_why(app, bank, admin):
    put_settings(app, banking_bulk_batch_size=5)
    invoices = open_invoices(bank, 30)
    line = deposit(app, sum(i["cents"] for i in invoices))
    assert create(admin, line, invoices).status_code == 303
    bank.faults(payments_refuse_invoice_ids=[invoices[21]["id"]])
    run = start(app, admin, recon_of(app, line))
    assert run.status == "failed"
    assert invoices[21]["number"] in run.reason and "rolled back" in run.reason
    assert bank.ours() == [] and len(bank.truth()["deleted"]) >= 20
    assert all(round(bank.get(f"/invoices/{inv['id']}")["amountToPay"] * 100) == inv["cents"] for inv in invoices)
    recon = recon_of(app, line)
    assert recon.status == "rolled_back" and invoices[21]["number"] in recon.reason

    bank.faults()  # the cause fixed, the same allocation starts again from nothing
    assert start(app, admin, recon).status == "succeeded"
    assert len(bank.ours()) == 30


def test_terminate_mid_posting_rolls_back_and_the_run_ends_cancelled(app, bank, admin):
    put_settings(app, banking_bulk_batch_size=2)
    invoices = open_invoices(bank, 30)
    line = deposit(app, sum(i["cents"] for i in invoices))
    assert create(admin, line, invoices).status_code == 303
    bank.faults(latency_ms=40)
    recon = recon_of(app, line)
    assert admin.post(f"/banking/bulk/{recon.id}/start").status_code == 303
    run_id = latest_run(app, "banking.bulk_reconcile").id
    wait_for(lambda: get_run(app, run_id).progress_done >= 4 and "invoices" in get_run(app, run_id).progress_message,
             timeout=60, message="posting under way")
    assert admin.post(f"/runs/{run_id}/cancel").status_code in (200, 202, 302, 303)
    run = wait_status(app, run_id, "cancelled", "failed", "succeeded", timeout=120)
    assert run.status == "cancelled"
    assert bank.ours() == []
    assert recon_of(app, line).status == "rolled_back"


def test_an_invoice_paid_since_the_allocation_stops_the_run_before_anything_is_posted(app, bank, admin):
    invoices = open_invoices(bank, 6)
    line = deposit(app, sum(i["cents"] for i in invoices))
    assert create(admin, line, invoices).status_code == 303
    bank.post(f"invoices/{invoices[3]['id']}/pay")
    before = bank.truth()["posts"]
    run = start(app, admin, recon_of(app, line))
    assert run.status == "failed" and "no longer holds" in run.reason and invoices[3]["number"] in run.reason
    assert bank.truth()["posts"] == before and bank.ours() == []


def test_the_reconciliation_page_shows_the_allocation_and_exports_it(app, bank, admin):
    invoices = open_invoices(bank, 3)
    line = deposit(app, sum(i["cents"] for i in invoices))
    assert create(admin, line, invoices).status_code == 303
    recon = recon_of(app, line)
    page = admin.client.get(f"/banking/bulk/{recon.id}").get_data(as_text=True)
    assert "Start posting" in page and all(inv["number"] in page for inv in invoices)
    exported = admin.client.get(f"/banking/bulk/{recon.id}?format=csv").get_data(as_text=True).strip().splitlines()
    assert len(exported) == 4 and exported[0].startswith("position,invoice_number")
    assert run_job(app, "banking.bulk_rollback", {"reconciliation": str(recon.id)}).status == "succeeded"


def test_a_deposit_already_posted_as_one_payment_cannot_be_reconciled_in_bulk(app, bank, admin):
    invoices = open_invoices(bank, 2)
    line = deposit(app, sum(i["cents"] for i in invoices))
    assert admin.post(f"/banking/lines/{line.id}/assign", data={"customer": str(invoices[0]["clientId"])}
                      ).status_code == 303
    assert run_job(app, "banking.post_payments", timeout=120).status == "succeeded"
    response = create(admin, line, invoices)
    assert response.status_code == 400 and "already posted to UISP" in response.get_data(as_text=True)
