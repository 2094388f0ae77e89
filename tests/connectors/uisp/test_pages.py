"""The UISP customer pages over a cache filled from the fake UISP (real HTTP, real runs)."""
import csv
import io
import re
from datetime import date

import pytest
from sqlalchemy import select, update

from app.connectors.uisp.models import Customer, Invoice, PaymentCover, PaymentPattern
from app.extensions import db
from tests.conftest import create_user, wait_for
from tests.runs.helpers import run_job
from tests.runs.helpers import get_run



def rand(amount):
    """How the pages show a ZAR amount: R 1,234.56."""
    return f"{'-' if amount < 0 else ''}R {abs(amount):,.2f}"


def html(admin, url, status=200):
    response = admin.client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def element(page, attr):
    """The inner HTML of the one element carrying `attr` (e.g. 'id="invoice-5"' or 'data-field="vip-grace"')."""
    match = re.search(rf'<(tr|dd|div)\b[^>]*{re.escape(attr)}[^>]*>(.*?)</\1>', page, re.S)
    assert match, f"no element with {attr}"
    return match.group(2)


def listed_ids(page):
    return [int(i) for i in re.findall(r'<tr data-customer-id="(\d+)"', page)]


def fake_clients(uisp):
    return uisp.get("/clients", limit=10000, isArchived=1)


def fake_services(uisp):
    return uisp.get("/clients/services", limit=10000)


def status_summary(services):
    names = {0: "prepared", 1: "active", 2: "ended", 3: "suspended", 4: "prepared blocked", 5: "obsolete",
             6: "deferred", 7: "quoted", 8: "inactive"}
    counts = {}
    for s in services:
        counts[s["status"]] = counts.get(s["status"], 0) + 1
    return ", ".join(f"{counts[k]} {names[k]}" for k in sorted(counts, key=lambda k: (k != 1, k)))


def export_ids(admin, query=""):
    response = admin.client.get(f"/uisp/customers.csv{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    return rows[0], {int(r[0]): r for r in rows[1:]}


# --- customers list -----------------------------------------------------------------------------------

def test_list_shows_active_customers_with_service_summary_and_outstanding(admin, uisp, refreshed):
    clients = fake_clients(uisp)
    active = [c for c in clients if not c["isArchived"]]
    page = html(admin, "/uisp/customers?per_page=25")
    assert f"{len(active):,} in all" in page
    assert '<div id="data-area" hx-trigger="run-succeeded from:body' in page and "Data as of" in page
    by_client = {}
    for s in fake_services(uisp):
        by_client.setdefault(s["clientId"], []).append(s)
    mixed = next(c for c in active if len({s["status"] for s in by_client[c["id"]]}) > 1)
    row = element(html(admin, f"/uisp/customers?q={mixed['userIdent']}"), f'data-customer-id="{mixed["id"]}"')
    assert status_summary(by_client[mixed["id"]]) in row
    assert rand(mixed["accountOutstanding"]) in row and "Active" in row


def test_search_by_custom_id_and_by_uisp_id(admin, uisp, refreshed):  # (k)
    target = fake_clients(uisp)[6]
    assert listed_ids(html(admin, f"/uisp/customers?q={target['userIdent']}")) == [target["id"]]
    assert target["id"] in listed_ids(html(admin, f"/uisp/customers?q={target['id']}"))
    by_name = listed_ids(html(admin, f"/uisp/customers?q={target['lastName']}&status=all&per_page=100"))
    assert target["id"] in by_name


@pytest.mark.parametrize("query", ["status=gone", "vip=maybe", "risky=1", "overdue=true", "page=0", "per_page=7",
                                   "q=" + "x" * 201])
def test_bad_filter_is_a_400_with_a_message(admin, query):  # (j)
    urls = [f"/uisp/customers?{query}"] + ([] if "page" in query else [f"/uisp/customers.csv?{query}"])
    for url in urls:
        response = admin.client.get(url)
        assert response.status_code == 400
        assert "must be" in response.get_data(as_text=True) or "longer than" in response.get_data(as_text=True)


def test_csv_export_has_header_and_exactly_the_filtered_rows(admin, uisp, refreshed):  # (i)
    clients = fake_clients(uisp)
    header, overdue = export_ids(admin, "?overdue=yes")
    assert header[:4] == ["id", "user_ident", "name", "account_status"] and "outstanding" in header
    assert set(overdue) == {c["id"] for c in clients if c["hasOverdueInvoice"] and not c["isArchived"]}
    _, archived = export_ids(admin, "?status=archived")
    assert set(archived) == {c["id"] for c in clients if c["isArchived"]}
    assert all(r[3] == "Archived" for r in archived.values())
    _, vips = export_ids(admin, "?vip=yes&status=all")
    assert set(vips) == {c["id"] for c in clients if _vip_attr(c).get("value") == "1"}
    sample = next(iter(overdue.values()))
    assert re.fullmatch(r"\d+\.\d\d", sample[7]) and sample[8] == "ZAR"


def _vip_attr(client):
    return next((a for a in client["attributes"] if a["key"] == "vip"), {})


def test_risky_filter_matches_payment_patterns(app, admin, refreshed):
    with app.app_context():
        risky = set(db.session.scalars(select(PaymentPattern.client_id).where(PaymentPattern.is_risky)))
        archived = set(db.session.scalars(select(Customer.id).where(Customer.is_archived)))
    assert risky, "the fake's data should contain risky payers"
    _, rows = export_ids(admin, "?risky=yes")
    assert set(rows) == risky - archived and all(r[10] == "yes" for r in rows.values())
    page = html(admin, "/uisp/customers?risky=yes&per_page=25")
    assert page.count(">Risky</span>") == min(25, len(risky - archived))


# --- customer detail ----------------------------------------------------------------------------------

def test_unknown_customer_is_a_404_page(admin):
    page = html(admin, "/uisp/customers/999999", status=404)
    assert "not in the cache" in page


def test_services_of_every_status_are_shown(admin, uisp, refreshed):  # (b) seed defect 2
    suspended = uisp.get("/clients/services", **{"statuses[]": 3, "limit": 1})[0]
    page = html(admin, f"/uisp/customers/{suspended['clientId']}")
    row = element(page, f'id="service-{suspended["id"]}"')
    assert "Suspended" in row and suspended["servicePlanName"] in row
    assert suspended["suspensionPeriods"][-1]["startDate"][:10] in row
    for status in range(9):
        other = uisp.get("/clients/services", **{"statuses[]": status, "limit": 1})[0]
        assert f'id="service-{other["id"]}"' in html(admin, f"/uisp/customers/{other['clientId']}")


def test_invoice_number_total_and_remaining_come_from_amount_to_pay(admin, uisp, refreshed):  # (c) seed defect 3
    invoice = uisp.get("/invoices", **{"statuses[]": 2, "limit": 1})[0]
    row = element(html(admin, f"/uisp/customers/{invoice['clientId']}"), f'id="invoice-{invoice["id"]}"')
    assert invoice["number"] in row
    assert re.search(rf'data-field="total">{re.escape(rand(invoice["total"]))}<', row)
    assert re.search(rf'data-field="remaining">{re.escape(rand(invoice["amountToPay"]))}<', row)
    assert re.search(rf'data-field="paid">{re.escape(rand(invoice["amountPaid"]))}<', row)
    assert "Partially paid" in row


def test_paid_is_decided_by_remaining_amount(app, admin, uisp, executor, refreshed):  # (d) seed defects 6-7
    invoice = next(i for i in uisp.get("/invoices", **{"statuses[]": 1, "limit": 200})
                   if i["dueDate"][:10] < date.today().isoformat())
    before = element(html(admin, f"/uisp/customers/{invoice['clientId']}"), f'id="invoice-{invoice["id"]}"')
    assert "Unpaid" in before and "Overdue" in before
    uisp.post(f"invoices/{invoice['id']}/pay")
    run = run_job(app, "uisp.refresh_customer", {"client_id": invoice["clientId"]})
    assert run.status == "succeeded", run.reason
    row = element(html(admin, f"/uisp/customers/{invoice['clientId']}"), f'id="invoice-{invoice["id"]}"')
    assert 'data-invoice-state="Paid"' in row and "Overdue" not in row
    assert re.search(r'data-field="remaining">R 0\.00<', row)
    # A status field that disagrees (stale or wrong) does not make a settled invoice unpaid.
    with app.app_context():
        db.session.execute(update(Invoice).where(Invoice.id == invoice["id"]).values(status=1))
        db.session.commit()
    row = element(html(admin, f"/uisp/customers/{invoice['clientId']}"), f'id="invoice-{invoice["id"]}"')
    assert 'data-invoice-state="Paid"' in row


def test_account_status_and_service_status_are_separate_fields(admin, uisp, refreshed):  # (e) seed defect 8
    service = uisp.get("/clients/services", **{"statuses[]": 3, "limit": 1})[0]
    client = uisp.get(f"/clients/{service['clientId']}")
    page = html(admin, f"/uisp/customers/{client['id']}")
    assert "Account status</dt>" in page and "Service status</dt>" in page
    account = element(page, 'data-field="account-status"')
    assert ">Active<" in account and "Suspended" not in account
    assert f"Client-zone access: {'yes' if client['isActive'] else 'no'}" in account
    services = element(page, 'data-field="service-status"')
    assert "suspended" in services and ">Suspended<" in services and "Archived" not in services
    archived = next(c for c in fake_clients(uisp) if c["isArchived"])
    page = html(admin, f"/uisp/customers/{archived['id']}")
    assert ">Archived<" in element(page, 'data-field="account-status"')
    assert "ended" in element(page, 'data-field="service-status"')


def test_grace_payment_day_is_shown_beside_vip(app, admin, uisp, refreshed):  # (f) seed item 10
    clients = fake_clients(uisp)
    graced = next(c for c in clients if _vip_attr(c).get("value") != "1"
                  and any(a["key"] == "gracePaymentDay" for a in c["attributes"]))
    day = next(a["value"] for a in graced["attributes"] if a["key"] == "gracePaymentDay")
    page = html(admin, f"/uisp/customers/{graced['id']}")
    assert element(page, 'data-field="vip-grace"') == f"Grace payment day: {day}"
    with app.app_context():
        db.session.execute(update(Customer).where(Customer.id == graced["id"]).values(is_vip=True))
        db.session.commit()
    assert element(html(admin, f"/uisp/customers/{graced['id']}"), 'data-field="vip-grace"') == f"VIP · grace day {day}"
    plain = next(c for c in clients if not c["attributes"])
    assert element(html(admin, f"/uisp/customers/{plain['id']}"), 'data-field="vip-grace"') == "—"


def test_payments_show_the_invoices_they_covered_and_the_pattern_card(app, admin, refreshed):
    with app.app_context():
        cover = db.session.scalars(select(PaymentCover).where(PaymentCover.invoice_id.is_not(None))).first()
        invoice = db.session.get(Invoice, cover.invoice_id)
        risky = db.session.scalars(select(PaymentPattern).where(PaymentPattern.is_risky)).first()
        counts = f"{risky.on_time_count} / {risky.late_count} / {risky.missed_count}"
    row = element(html(admin, f"/uisp/customers/{invoice.client_id}"), f'id="payment-{cover.payment_id}"')
    assert f'href="#invoice-{invoice.id}">{invoice.number}</a>' in row
    page = html(admin, f"/uisp/customers/{risky.client_id}")
    assert element(page, 'data-field="pattern-counts"') == counts
    assert 'data-field="risky">Risky<' in page
    assert "missed when something remains to pay and the due date has passed" in page
    assert "risky when missed ≥ 2, or late ≥ 3, or the average days late &gt; 30" in page


def test_refresh_this_customer_queues_a_run_and_reports_it(app, admin, uisp, executor, refreshed):
    client_id = fake_clients(uisp)[3]["id"]
    page = html(admin, f"/uisp/customers/{client_id}")
    assert 'id="refresh-customer"' in page and 'hx-target="#customer-run"' in page
    response = admin.post(f"/uisp/customers/{client_id}/refresh", json={})
    assert response.status_code in (200, 202), response.get_data(as_text=True)
    data = response.get_json()["run"]
    data["run_id"] = data["id"]
    assert data["url"] == f"/runs/{data['run_id']}" and data["status_url"] == f"/api/runs/{data['run_id']}"
    wait_for(lambda: get_run(app, data["run_id"]).status in ("succeeded", "failed"), timeout=30)
    run = get_run(app, data["run_id"])
    assert (run.job_id, run.params, run.status) == ("uisp.refresh_customer", {"client_id": client_id}, "succeeded")
    form = admin.post(f"/uisp/customers/{client_id}/refresh")
    assert form.status_code == 303 and re.search(rf"/uisp/customers/{client_id}\?run=\d+", form.location)
    assert 'id="customer-run"' in html(admin, form.location)


def test_viewer_cannot_refresh_a_customer(app, auth, uisp, refreshed):
    with app.app_context():
        create_user("vera", roles=("viewer",))
    auth.login("vera")
    page = auth.client.get("/uisp/customers/5").get_data(as_text=True)
    assert 'id="refresh-customer"' not in page and ">Suspend<" not in page
    assert auth.post("/uisp/customers/5/refresh").status_code == 403
