"""The CRM bridge's pages: Inspect, Mappings (Load & Discover), Deals, Minimum ids, the Data explorer,
each permission-checked and audited."""
import pytest
from sqlalchemy import select

from app.auth.models import Activity
from app.connectors.crm.models import CrmDealTrigger, CrmMapping, CrmMinimumId
from app.extensions import db
from tests.conftest import create_user
from tests.connectors.crm.helpers import run_cycle


@pytest.fixture
def viewer(app, auth):
    with app.app_context():
        create_user("vera", roles=("viewer",))
    assert auth.login("vera").status_code == 302
    return auth


def _activity(app, action):
    with app.app_context():
        return [(a.target, a.detail) for a in db.session.scalars(select(Activity).where(Activity.action == action))]


def test_inspect_counts_each_table_by_status_and_lists_the_problems(app, crm, admin, client):
    run_cycle(app)
    page = client.get("/crm/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for stream in ("contacts", "products", "store_invoices", "service_invoices", "receipts"):
        assert f'data-stream="{stream}"' in html
    assert "duplicate of person" in html  # the seed's duplicates, skipped with their reason
    assert "Run the cycle now" in html


def test_run_the_cycle_now_queues_the_first_step_and_answers_json(app, crm, admin):
    response = admin.post("/crm/run", headers={"Accept": "application/json"})
    assert response.status_code == 202
    assert response.get_json()["run"]["job_id"] == "crm.dedupe_members"


def test_load_and_discover_finds_the_source_values_then_save_maps_them_audited(app, crm, admin, client):
    with app.app_context():
        db.session.query(CrmMapping).filter_by(kind="organization").delete()
        db.session.commit()
    html = client.get("/crm/mappings?kind=organization&discover=1").get_data(as_text=True)
    values = sorted({str(r["organizationId"]) for r in crm.source.rows(
        "SELECT DISTINCT organizationId FROM dbo.membership WHERE organizationId IS NOT NULL")})
    assert values and all(f'data-source-value="{v}"' in html for v in values)
    assert "Head office" in html  # the CRM's own ids are offered beside the form
    response = admin.post("/crm/mappings", data={"kind": "organization", "source_value": values,
                                                 "target_value": ["201"] + [""] * (len(values) - 1)})
    assert response.status_code == 303
    with app.app_context():
        saved = {m.source_value: m.target_value for m in db.session.scalars(
            select(CrmMapping).where(CrmMapping.kind == "organization"))}
    assert saved[values[0]] == "201" and all(saved[v] == "" for v in values[1:])
    assert _activity(app, "crm_mapping_saved")[0][0] == "organization"


def test_a_mapping_to_a_non_number_is_refused_whole(app, crm, admin):
    response = admin.post("/crm/mappings", data={"kind": "gender", "source_value": ["1", "2"],
                                                 "target_value": ["1", "female"]})
    assert response.status_code == 400 and "whole number" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(CrmMapping, ("gender", "2")).target_value == "2"


def test_deal_triggers_are_checked_against_the_crms_funnels_saved_and_removed(app, crm, admin, client):
    bad = admin.post("/crm/deals", data={"service_id": "5", "funnel_id": "1", "funnel_level_id": "21"})
    assert bad.status_code == 400 and "no level 21 in funnel 1" in bad.get_data(as_text=True)
    assert admin.post("/crm/deals", data={"service_id": "5", "funnel_id": "2", "funnel_level_id": "21"}).status_code == 303
    with app.app_context():
        assert db.session.get(CrmDealTrigger, 5).funnel_level_id == 21
    assert "Personal training" in client.get("/crm/deals").get_data(as_text=True)
    assert admin.post("/crm/deals/5/delete").status_code == 303
    assert admin.post("/crm/deals/5/delete").status_code == 404
    assert [a for a, _ in _activity(app, "crm_deal_trigger_saved")] == ["service 5"]


def test_minimum_ids_are_saved_and_a_bad_one_is_refused(app, crm, admin):
    assert admin.post("/crm/minimum-ids", data={"membership": "120", "receipt": "0"}).status_code == 303
    assert admin.post("/crm/minimum-ids", data={"membership": "-3"}).status_code == 400
    with app.app_context():
        assert db.session.get(CrmMinimumId, "membership").min_id == 120
    assert "membership: 0 → 120" in _activity(app, "crm_minimum_ids_saved")[0][1]


def test_the_explorer_reads_whitelisted_rows_and_refuses_the_rest(app, crm, admin, client):
    mobile = crm.source.rows("SELECT mobile FROM dbo.membership WHERE mobile IS NOT NULL ORDER BY IDD")[0]["mobile"]
    page = client.get(f"/crm/explorer?table=membership&column=mobile&operator==&value={mobile}&limit=5")
    assert page.status_code == 200 and mobile in page.get_data(as_text=True)
    assert client.get("/crm/explorer?table=sync_records").status_code == 400
    assert client.get("/crm/explorer?table=membership&column=email&value=x").status_code == 400
    assert client.get("/crm/explorer?table=membership&limit=100000").status_code == 400
    assert _activity(app, "crm_explorer_query")[0][0] == "membership"


def test_a_viewer_may_look_but_not_change_run_or_explore(app, crm, viewer, client):
    assert client.get("/crm/").status_code == 200
    assert client.get("/crm/mappings").status_code == 200
    assert client.get("/crm/explorer?table=membership").status_code == 403
    for url, data in (("/crm/mappings", {"kind": "gender"}), ("/crm/deals", {"service_id": "1"}),
                      ("/crm/minimum-ids", {}), ("/crm/run", {}), ("/records/retry", {"all": "1"})):
        assert viewer.post(url, data=data).status_code == 403, url
