"""Who should be suspended (the grace rule), and suspending/reactivating services through the page."""
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from app.auth.models import Activity
from app.connectors.uisp import suspensions
from app.connectors.uisp.models import Customer, Service
from app.extensions import db
from tests.conftest import create_user
from tests.runs.helpers import latest_run, run_job, wait_status


@pytest.mark.parametrize("due, grace, expected", [
    (date(2026, 10, 15), None, date(2026, 10, 15)),      # no grace day: the due date itself
    (date(2026, 10, 15), 20, date(2026, 10, 20)),        # grace day later this month
    (date(2026, 10, 15), 15, date(2026, 10, 15)),        # due on the grace day
    (date(2026, 10, 15), 5, date(2026, 11, 5)),          # grace day already past this month: next month's
    (date(2026, 1, 30), 31, date(2026, 1, 31)),
    (date(2026, 2, 10), 31, date(2026, 2, 28)),          # clamped to February's last day
    (date(2028, 2, 10), 30, date(2028, 2, 29)),          # leap year
    (date(2026, 3, 31), 30, date(2026, 4, 30)),          # next month, clamped to April's 30
    (date(2026, 12, 20), 3, date(2027, 1, 3)),           # across the year end
])
def test_suspension_date(due, grace, expected):
    assert suspensions.suspension_date(due, grace) == expected


def today_utc():
    return datetime.now(timezone.utc).date()


def due_rows(app, today=None):
    with app.test_request_context():
        return {row.customer.id: row for row in suspensions.due_for_suspension(today or today_utc())}


def page_ids(admin, url):
    response = admin.client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return [int(i) for i in re.findall(r'<tr data-customer-id="(\d+)"', response.get_data(as_text=True))]


def expected_from_fake(uisp, today):
    """The rule applied to the fake's own data (not our cache)."""
    clients = {c["id"]: c for c in uisp.get("/clients", limit=10000, isArchived=1)}
    oldest = {}
    for inv in uisp.get("/invoices", limit=100000):
        due = date.fromisoformat(inv["dueDate"][:10])
        if inv["status"] in (1, 2) and inv["amountToPay"] > 0 and due < today:
            oldest[inv["clientId"]] = min(due, oldest.get(inv["clientId"], due))
    expected = set()
    for cid, due in oldest.items():
        attrs = {a["key"]: a["value"] for a in clients[cid]["attributes"]}
        grace = int(attrs["gracePaymentDay"]) if "gracePaymentDay" in attrs else None
        if not clients[cid]["isArchived"] and attrs.get("vip") != "1" \
                and suspensions.suspension_date(due, grace) < today:
            expected.add(cid)
    return expected


def test_due_list_is_the_rule_applied_to_the_source(app, admin, uisp, refreshed):  # (g)
    expected = expected_from_fake(uisp, today_utc())
    assert len(expected) > 5, "the fake's data should contain customers due for suspension"
    listed = page_ids(admin, "/uisp/suspensions?per_page=100")
    assert set(listed) == expected and len(listed) == len(expected)
    page = admin.client.get("/uisp/suspensions?per_page=100").get_data(as_text=True)
    assert f'Due for suspension <span class="badge text-bg-secondary">{len(expected)}</span>' in page
    reason = re.search(r'data-field="reason">([^<]*)<', page).group(1)
    assert re.fullmatch(r"\d+ unpaid invoices?, R [\d,]+\.\d\d overdue; oldest \d+ due \d{4}-\d\d-\d\d"
                        r"(, grace day \d+ passed on \d{4}-\d\d-\d\d|, no grace day)", reason), reason


def test_vip_and_archived_customers_are_never_due(app, admin, uisp, executor, refreshed):  # (a) (g) seed defect 1
    due = due_rows(app)
    vip_id, archived_id = sorted(due)[:2]
    with app.app_context():
        db.session.execute(update(Customer).where(Customer.id == vip_id).values(is_vip=True))
        db.session.commit()
    assert vip_id not in page_ids(admin, "/uisp/suspensions?per_page=100")
    ident = uisp.get(f"/clients/{archived_id}")["userIdent"]
    assert archived_id in page_ids(admin, f"/uisp/customers?q={ident}")
    uisp.post(f"clients/{archived_id}/archive")
    assert run_job(app, "uisp.refresh").status == "succeeded"
    assert archived_id not in page_ids(admin, "/uisp/suspensions?per_page=100")
    assert archived_id not in page_ids(admin, "/uisp/suspensions?tab=suspended&per_page=100")
    assert page_ids(admin, f"/uisp/customers?q={ident}") == []
    assert page_ids(admin, f"/uisp/customers?q={ident}&status=archived") == [archived_id]
    assert page_ids(admin, f"/uisp/customers?q={ident}&status=all") == [archived_id]


def test_grace_day_postpones_suspension(app, admin, uisp, refreshed):  # (g)
    rows = list(due_rows(app).values())
    graced = next(r for r in rows if r.customer.grace_payment_day and r.suspend_on > r.oldest_due)
    plain = next(r for r in rows if not r.customer.grace_payment_day)
    for row in (graced, plain):
        cid, on = row.customer.id, row.suspend_on
        assert on == suspensions.suspension_date(row.oldest_due, row.customer.grace_payment_day)
        assert cid not in due_rows(app, on), "listed on the very day its grace ends"
        assert cid in due_rows(app, on + timedelta(days=1)), "not listed the day after its grace ended"
    assert plain.customer.id not in due_rows(app, plain.oldest_due), "listed on its due date"
    page = admin.client.get("/uisp/suspensions?per_page=100").get_data(as_text=True)
    row_html = re.search(rf'data-customer-id="{graced.customer.id}">(.*?)</tr>', page, re.S).group(1)
    assert (f"grace day {graced.customer.grace_payment_day} passed on {graced.suspend_on.isoformat()}"
            in row_html)


def active_service_of_due_customer(app):
    due = due_rows(app)
    with app.app_context():
        service = db.session.scalars(select(Service).where(Service.client_id.in_(due), Service.status == 1)
                                     .order_by(Service.id)).first()
        return service.id, service.client_id, db.session.get(Customer, service.client_id).name


def cached_service(app, service_id):
    with app.app_context():
        s = db.session.get(Service, service_id)
        return s.status, s.suspended_since


def activities(app, action):
    with app.app_context():
        return db.session.scalars(select(Activity).where(Activity.action == action)).all()


def test_suspend_and_reactivate_through_the_page(app, admin, uisp, refreshed):  # (h)
    sid, cid, name = active_service_of_due_customer(app)
    page = admin.client.get("/uisp/suspensions?per_page=100").get_data(as_text=True)
    assert f'action="/uisp/services/{sid}/suspend"' in page
    response = admin.post(f"/uisp/services/{sid}/suspend", data={"next": "/uisp/suspensions?per_page=100"})
    assert response.status_code == 303 and response.location.endswith("/uisp/suspensions?per_page=100")
    assert uisp.get(f"/clients/services/{sid}")["status"] == 3
    # The cache changes through the customer's refresh run (under the uisp lock), not behind it.
    refresh = latest_run(app, "uisp.refresh_customer")
    assert refresh.params == {"client_id": cid} and refresh.requested_by == "alice"
    assert wait_status(app, refresh.id, "succeeded", "failed").status == "succeeded"
    assert cached_service(app, sid) == (3, today_utc())
    [entry] = activities(app, "service_suspended")
    assert (entry.target, entry.username) == (f"service {sid}", "alice")
    assert f"client {cid} {name}" in entry.detail
    followed = admin.client.get(response.location).get_data(as_text=True)
    assert f"Service {sid}" in followed and f"suspended; refreshing the customer: run {refresh.id}" in followed
    assert cid in page_ids(admin, "/uisp/suspensions?tab=suspended&per_page=100")
    assert f'action="/uisp/services/{sid}/reactivate"' in followed

    response = admin.post(f"/uisp/services/{sid}/reactivate")
    assert response.status_code == 303 and response.location.endswith("/uisp/suspensions")
    assert uisp.get(f"/clients/services/{sid}")["status"] == 1
    wait_status(app, latest_run(app, "uisp.refresh_customer").id, "succeeded")
    assert cached_service(app, sid) == (1, None)
    [entry] = activities(app, "service_reactivated")
    assert entry.target == f"service {sid}" and f"client {cid}" in entry.detail


def test_viewer_gets_403_and_nothing_changes(app, auth, uisp, refreshed):  # (h)
    sid, _cid, _name = active_service_of_due_customer(app)
    with app.app_context():
        create_user("vera", roles=("viewer",))
    auth.login("vera")
    page = auth.client.get("/uisp/suspensions").get_data(as_text=True)
    assert "/suspend" not in page and "/reactivate" not in page
    assert auth.post(f"/uisp/services/{sid}/suspend").status_code == 403
    assert auth.post(f"/uisp/services/{sid}/reactivate").status_code == 403
    assert uisp.get(f"/clients/services/{sid}")["status"] == 1
    assert cached_service(app, sid)[0] == 1
    assert activities(app, "service_suspended") == []


def test_uisp_refusal_is_shown_and_the_cache_is_kept(app, admin, uisp, refreshed):  # (h)
    service = uisp.get("/clients/services", **{"statuses[]": 3, "limit": 1})[0]
    sid, before = service["id"], cached_service(app, service["id"])
    response = admin.post(f"/uisp/services/{sid}/suspend", follow_redirects=True)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "422" in text and "Only active services can be suspended." in text
    assert cached_service(app, sid) == before and activities(app, "service_suspended") == []
    assert uisp.get(f"/clients/services/{sid}")["status"] == 3
    response = admin.post(f"/uisp/services/{sid}/suspend", json={})
    assert response.status_code == 502
    assert "Only active services can be suspended." in response.get_json()["error"]
    active = uisp.get("/clients/services", **{"statuses[]": 1, "limit": 1})[0]
    response = admin.post(f"/uisp/services/{active['id']}/reactivate", json={})
    assert response.status_code == 502 and "Service is not suspended." in response.get_json()["error"]
    assert cached_service(app, active["id"])[0] == 1


def test_unreachable_uisp_changes_nothing(app, admin, uisp, refreshed):
    sid, _cid, _name = active_service_of_due_customer(app)
    app.config["UISP_BASE_URL"] = "http://127.0.0.1:9/crm/api/v1.0"
    app.config["UISP_RETRIES"] = 0
    text = admin.post(f"/uisp/services/{sid}/suspend", follow_redirects=True).get_data(as_text=True)
    assert "UISP unreachable" in text
    assert cached_service(app, sid)[0] == 1 and uisp.get(f"/clients/services/{sid}")["status"] == 1


def test_suspended_now_lists_services_suspended_at_the_source(app, admin, uisp, executor, refreshed):
    suspended = {s["clientId"] for s in uisp.get("/clients/services", **{"statuses[]": 3, "limit": 10000})}
    clients = {c["id"]: c for c in uisp.get("/clients", limit=10000, isArchived=1)}
    expected = {cid for cid in suspended if not clients[cid]["isArchived"]}
    assert set(page_ids(admin, "/uisp/suspensions?tab=suspended&per_page=100")) == expected
    fresh = next(s for s in uisp.get("/clients/services", **{"statuses[]": 1, "limit": 500})
                 if s["clientId"] not in suspended)
    uisp.post(f"services/{fresh['id']}/suspend")
    assert run_job(app, "uisp.refresh").status == "succeeded"
    assert fresh["clientId"] in page_ids(admin, "/uisp/suspensions?tab=suspended&per_page=100")


def test_bad_tab_or_page_is_a_400(admin):
    for query in ("tab=everyone", "page=x", "per_page=1000"):
        response = admin.client.get(f"/uisp/suspensions?{query}")
        assert response.status_code == 400 and "must be" in response.get_data(as_text=True)
