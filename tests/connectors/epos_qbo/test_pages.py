"""The EPOS→QBO pages: Overview (KPIs of the target trading date, company cards, revenue chart data),
Companies (search, filter, sort, token health), a company's detail, and the run form's permission."""
from datetime import date, datetime, timedelta, timezone

import pytest

from app.connectors.base.connections import get_connection, write_secrets
from app.connectors.epos_qbo.models import EposQboReconciliation
from app.connectors.epos_qbo.tokens import fingerprint
from app.extensions import db
from tests.conftest import create_user
from tests.connectors.epos_qbo.conftest import sync

DAY = date(2026, 3, 27)


@pytest.fixture
def viewer(app, auth):
    with app.app_context():
        create_user("vera", roles=("viewer",))
    assert auth.login("vera").status_code == 302
    return auth


def _artifact(company, day, status="MATCH", total="100.00", processed=None, succeeded=True, receipts=10):
    return EposQboReconciliation(company=company, trading_date=day, succeeded=succeeded, status=status,
                                 epos_total=total, qbo_total=total if status == "MATCH" else "90.00",
                                 difference="0.00" if status == "MATCH" else "10.00", epos_count=receipts,
                                 receipts_created=receipts, receipts_existing=0, seconds=1.5,
                                 processed_at=processed or datetime(2026, 3, 28, 5, 0))


def _expiring(app, key, days):
    with app.app_context():
        conn = get_connection("epos_qbo", key)
        refresh = f"rt-{key}"
        write_secrets(conn, {"qbo_refresh_token": refresh, "qbo_token_meta": {
            "for": fingerprint(refresh),
            "refresh_expires_at": (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()}})
        db.session.commit()


def test_overview_shows_kpis_cards_and_the_target_trading_date(app, epos_qbo, admin, client):
    assert sync(app, DAY).status == "succeeded"
    html = client.get(f"/epos-qbo/?date={DAY}").get_data(as_text=True)
    assert "Trading date 2026-03-27 (2026-03-27 03:00 – 2026-03-28 03:00 Europe/London)" in html
    assert 'data-kpi="success">100%' in html
    assert html.count("receipts from latest sync (2026-03-27)") == 3
    assert html.count('data-recon="MATCH"') == 3
    other = client.get("/epos-qbo/?date=2026-03-20").get_data(as_text=True)
    assert 'data-kpi="success">—' in other and "receipts from latest sync (2026-03-27)" in other
    assert client.get("/epos-qbo/?date=yesterday").status_code == 400


def test_a_company_without_a_successful_sync_says_so(app, epos_qbo_target, admin, client):
    with app.app_context():
        db.session.add(_artifact("co01", DAY, succeeded=False, status=""))
        db.session.commit()
    html = client.get("/epos-qbo/companies/").get_data(as_text=True)
    assert html.count("No sync yet") == 3


def test_the_revenue_chart_uses_match_days_only_and_the_latest_artifact_per_company_and_date(app, epos_qbo_target,
                                                                                            admin, client):
    from app.connectors.epos_qbo import views
    with app.app_context():
        last = views.target_date()
        db.session.add_all([
            _artifact("co01", last, total="100.00", processed=datetime(2026, 3, 28, 5)),
            _artifact("co01", last, total="120.00", processed=datetime(2026, 3, 28, 6)),  # a rerun: this one counts
            _artifact("co02", last, status="MISMATCH", total="80.00"),                    # not reconciled: left out
            _artifact("co02", last - timedelta(days=3), total="55.00"),
            _artifact("co01", last - timedelta(days=40), total="999.00"),                 # outside 30 days
        ])
        db.session.commit()
    week = client.get("/epos-qbo/revenue.json?range=7d").get_json()
    assert week["labels"][-1] == last.isoformat() and len(week["labels"]) == 7
    by_company = {d["company"]: d["data"] for d in week["datasets"]}
    assert by_company["co01"][-1] == 120.0
    assert by_company["co02"][-1] is None and by_company["co02"][-4] == 55.0
    yesterday = client.get("/epos-qbo/revenue.json?range=yesterday&company=co02").get_json()
    assert yesterday["labels"] == [last.isoformat()] and yesterday["datasets"] == []
    ninety = client.get("/epos-qbo/revenue.json?range=90d&company=co01").get_json()
    assert 999.0 in ninety["datasets"][0]["data"]
    bad = client.get("/epos-qbo/revenue.json?range=5y")
    assert bad.status_code == 400 and "range must be one of" in bad.get_json()["error"]


def test_companies_are_searched_filtered_by_health_and_sorted(app, epos_qbo_target, admin, client):
    _expiring(app, "co02", 3)
    _expiring(app, "co03", -1)
    with app.app_context():
        get_connection("epos_qbo", "co01").display_name = "Zeta Bar"
        db.session.commit()
    page = client.get("/epos-qbo/companies/").get_data(as_text=True)
    assert 'data-health="refresh_expiring"' in page and 'data-health="refresh_expired"' in page
    assert "Re-authorise" in page
    assert 'data-company="co02"' in client.get("/epos-qbo/companies/?health=refresh_expiring").get_data(as_text=True)
    only = client.get("/epos-qbo/companies/?health=refresh_expiring").get_data(as_text=True)
    assert 'data-company="co01"' not in only and 'data-company="co03"' not in only
    found = client.get("/epos-qbo/companies/?q=zeta").get_data(as_text=True)
    assert 'data-company="co01"' in found and 'data-company="co02"' not in found
    by_name = client.get("/epos-qbo/companies/?sort=name").get_data(as_text=True)
    assert by_name.index('data-company="co02"') < by_name.index('data-company="co01"')  # "Company 2" < "Zeta Bar"
    by_health = client.get("/epos-qbo/companies/?sort=health").get_data(as_text=True)
    assert by_health.index('data-company="co03"') < by_health.index('data-company="co02"') < \
        by_health.index('data-company="co01"')
    assert client.get("/epos-qbo/companies/?sort=colour").status_code == 400


def test_the_company_page_shows_its_days_and_an_unknown_one_is_404(app, epos_qbo, admin, client):
    assert "expiry not known yet" in client.get("/epos-qbo/companies/co01/").get_data(as_text=True)
    epos_qbo.advance_clock(3700)  # the access token expires: the run refreshes, and learns the refresh's expiry
    assert sync(app, DAY, "co01").status == "succeeded"
    html = client.get("/epos-qbo/companies/co01/").get_data(as_text=True)
    assert 'data-date="2026-03-27"' in html and 'data-recon="MATCH"' in html
    assert 'id="refresh-expiry">expires 2027-' in html or 'id="refresh-expiry">expires 2026-' in html
    assert client.get("/epos-qbo/companies/nope/").status_code == 404


def test_running_needs_trigger_runs_and_queues_one_or_all(app, epos_qbo_target, viewer):
    admin = viewer
    assert viewer.post("/epos-qbo/run", data={"date": "2026-03-27"}).status_code == 403
    viewer.logout()
    with app.app_context():
        create_user("alice", roles=("operator",))
    assert admin.login("alice").status_code == 302
    one = admin.post("/epos-qbo/run", data={"company": "co01", "date": "2026-03-27"},
                      headers={"Accept": "application/json"})
    assert one.status_code == 202 and one.get_json()["run"]["job_id"] == "epos_qbo.sync_company"
    assert one.get_json()["run"]["lock_key"] == "epos_qbo:co01"
    every = admin.post("/epos-qbo/run", data={"date": ""}, headers={"Accept": "application/json"})
    assert every.status_code == 202 and every.get_json()["run"]["job_id"] == "epos_qbo.sync_all"
    bad = admin.post("/epos-qbo/run", data={"date": "27/03/2026"}, headers={"Accept": "application/json"})
    assert bad.status_code == 400
