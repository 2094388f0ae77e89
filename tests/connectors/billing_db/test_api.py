"""The bill-stop JSON API (seed 001's routes): shapes, numbers, paging bounds, auth and CSRF."""
import pytest
from sqlalchemy import func, select

from app.connectors.billing_db.models import BillStopDetail, BillStopSummary
from app.extensions import db
from tests.conftest import create_user
from tests.connectors.billing_db.conftest import ran_batch
from tests.runs.helpers import count_runs, run_job

JOB = "billing.bill_stop_batch"
ANALYSIS = "/api/billing/bill-stop-analysis"
TRIGGER = "/api/billing/bill-stop-batch/trigger"
STATUS = "/api/billing/bill-stop-batch/status"
HISTORY = "/api/billing/bill-stop-batch/history"


def get_json(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    return response.get_json()


@pytest.fixture
def batch(app, billing, executor):
    return ran_batch(app)


def test_analysis_returns_batch_statistics_summary_and_a_page_of_details(app, admin, batch):
    data = get_json(admin.client, f"{ANALYSIS}?per_page=10")
    with app.app_context():
        n_crps = db.session.scalar(select(func.count()).where(BillStopSummary.batch_id == batch.id))
        n_cpcs = db.session.scalar(select(func.count()).where(BillStopDetail.batch_id == batch.id))
        n_stops = db.session.scalar(select(func.count()).where(BillStopDetail.batch_id == batch.id,
                                                               BillStopDetail.is_bill_stop))
    assert data["statistics"] == {"crps": n_crps, "cpcs": n_cpcs, "bill_stops": n_stops,
                                  "bill_stop_percentage": round(n_stops * 100 / n_cpcs, 2)}
    assert data["batch"]["id"] == batch.id and data["batch"]["status"] == "completed"
    assert data["batch"]["batch_date"] == batch.batch_date.isoformat()
    assert data["batch"]["url"] == f"/billing/?batch={batch.id}"
    assert data["total"] == n_cpcs and data["pages"] == -(-n_cpcs // 10) and len(data["items"]) == 10
    item = data["items"][0]
    assert set(item) == {"cpc_customer_no", "legacy_no", "customer_name", "crp_account_no", "address",
                         "last_bill_date", "billing_status", "is_bill_stop", "current_balance"}
    assert all(i["billing_status"] == "Bill Stop" for i in data["items"])  # bill stops first
    counts = [s["bill_stop_count"] for s in data["summary"]["items"]]
    assert counts == sorted(counts, reverse=True) and data["summary"]["total"] == n_crps


def test_analysis_filters(app, admin, batch):
    everything = get_json(admin.client, f"{ANALYSIS}?per_page=500")["items"]
    everything += get_json(admin.client, f"{ANALYSIS}?per_page=500&page=2")["items"]
    everything += get_json(admin.client, f"{ANALYSIS}?per_page=500&page=3")["items"]
    assert len({i["cpc_customer_no"] for i in everything}) == batch.details_count
    crp = everything[0]["crp_account_no"]
    data = get_json(admin.client, f"{ANALYSIS}?crp={crp}&status=Bill+Stop&per_page=500")
    expected = [i for i in everything if i["crp_account_no"] == crp and i["is_bill_stop"]]
    assert data["total"] == len(expected) and data["filters"] == {"crp": crp, "status": "Bill Stop", "q": None}
    target = everything[-1]
    found = get_json(admin.client, f"{ANALYSIS}?q={target['cpc_customer_no']}")["items"]
    assert [i["cpc_customer_no"] for i in found] == [target["cpc_customer_no"]]


BAD = ["per_page=0", "per_page=501", "per_page=x", "page=0", "page=-1", "status=Paid", "batch=abc",
       "batch=123456", "spage=0", f"q={'x' * 101}"]


def test_bad_arguments_are_json_400s(app, admin, batch):
    for query in BAD:
        data = get_json(admin.client, f"{ANALYSIS}?{query}", 400)
        assert data["status"] == 400 and data["error"], query


def test_per_page_500_is_allowed_and_history_has_the_same_bounds(app, admin, batch):
    assert len(get_json(admin.client, f"{ANALYSIS}?per_page=500")["items"]) == min(500, batch.details_count)
    get_json(admin.client, f"{HISTORY}?per_page=501", 400)


def test_no_batch_yet(app, admin):
    data = get_json(admin.client, ANALYSIS)
    assert data["batch"] is None and data["items"] == [] and "No batch yet" in data["message"]
    status = get_json(admin.client, STATUS)
    assert status["running"] is False and status["run"] is None and status["batch"] is None
    assert "T02:00:00" in status["next_run"] and status["schedule"] == "daily at 02:00"


def test_logged_out_gets_json_401(client):
    for url in (ANALYSIS, STATUS, HISTORY):
        response = client.get(url)
        assert response.status_code == 401 and response.get_json()["error"] == "Login required"
    refused = client.post(TRIGGER, json={})  # without a session there is no CSRF token either: refused first
    assert refused.status_code == 400 and refused.get_json()["status"] == 400


def test_post_without_csrf_token_is_a_json_400(app, admin):
    response = admin.client.post(TRIGGER, json={})
    assert response.status_code == 400 and "security token" in response.get_json()["error"]
    assert count_runs(app, job_id=JOB) == 0


def test_trigger_needs_trigger_runs(app, auth):
    with app.app_context():
        create_user("vera", roles=("viewer",))
    auth.login("vera")
    response = auth.post(TRIGGER, json={})
    assert response.status_code == 403 and response.get_json()["status"] == 403
    assert count_runs(app, job_id=JOB) == 0


def test_trigger_then_status_then_the_run_in_flight(app, admin):
    first = admin.post(TRIGGER, json={})
    run = first.get_json()["run"]
    assert first.status_code == 202 and first.get_json()["created"] == [run["id"]]
    assert run["job_id"] == JOB and run["status"] == "queued" and run["requested_by"] == "alice"
    second = admin.post(TRIGGER, json={})
    assert second.status_code == 200 and second.get_json()["run"]["id"] == run["id"]
    assert second.get_json()["created"] == [] and str(run["id"]) in second.get_json()["message"]
    status = get_json(admin.client, STATUS)
    assert status["running"] is True and status["run"]["id"] == run["id"]
    assert count_runs(app, job_id=JOB) == 1


def test_status_after_a_batch(app, admin, batch):
    status = get_json(admin.client, STATUS)
    assert status["running"] is False and status["run"]["status"] == "succeeded"
    assert status["run"]["progress"]["done"] == status["run"]["progress"]["total"] == batch.details_count
    assert status["batch"]["id"] == batch.id and status["batch"]["run_id"] == status["run"]["id"]


def test_history_is_the_batch_log_newest_first(app, admin, batch):
    app.config.update(BILLING_DB_URL="sqlite:////nonexistent/dir/x.db")
    assert run_job(app, JOB).status == "failed"
    data = get_json(admin.client, f"{HISTORY}?per_page=1")
    assert data["total"] == 2 and data["pages"] == 2 and len(data["items"]) == 1
    failed = data["items"][0]
    assert failed["status"] == "failed" and "unable to open database" in failed["error"] and failed["url"] is None
    older = get_json(admin.client, f"{HISTORY}?per_page=1&page=2")["items"][0]
    assert older["id"] == batch.id and older["status"] == "completed" and older["error"] is None
    assert older["duration_seconds"] >= 0 and older["details_count"] == batch.details_count
