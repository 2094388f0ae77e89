"""The fake UISP CRM server, run as a real subprocess and exercised over HTTP."""
import json
import time

import pytest
import requests

from tests.fakes.servers import fake_uisp

KEY, RO_KEY = "test-key", "ro-key"
N_CLIENTS = 300


@pytest.fixture(scope="module")
def fake():
    with fake_uisp(N_CLIENTS, KEY, "--read-only-key", RO_KEY, "--seed", "1") as root:
        yield root


@pytest.fixture
def api(fake):
    requests.post(fake + "/__fake/reset").raise_for_status()
    s = requests.Session()
    s.headers["X-Auth-App-Key"] = KEY
    s.base = fake + "/crm/api/v1.0"
    yield s
    s.close()


def get(api, path, **params):
    r = api.get(api.base + path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_auth(fake):
    base = fake + "/crm/api/v1.0"
    for headers in ({}, {"X-Auth-App-Key": "wrong"}):
        r = requests.get(base + "/clients", params={"limit": 1}, headers=headers)
        assert r.status_code == 401
        assert r.json() == {"code": 401, "message": "User authentication failed."}
    assert requests.get(base + "/clients", params={"limit": 1}, headers={"X-Auth-App-Key": RO_KEY}).status_code == 200
    r = requests.post(base + "/payments", json={"amount": 1}, headers={"X-Auth-App-Key": RO_KEY})
    assert r.status_code == 403 and r.json() == {"code": 403, "message": "Forbidden."}
    r = requests.patch(base + "/clients/services/1/suspend", json={}, headers={"X-Auth-App-Key": RO_KEY})
    assert r.status_code == 403
    r = requests.get(base + "/clients/999999", headers={"X-Auth-App-Key": KEY})
    assert r.status_code == 404 and r.json() == {"code": 404, "message": "Object is not found."}
    r = requests.get(base + "/clients", params={"limit": "x"}, headers={"X-Auth-App-Key": KEY})
    assert r.status_code == 400 and r.json() == {"code": 400, "message": "Bad request."}


def page_all(api, path, limit=100, **params):
    out, offset, pages = [], 0, 0
    while True:
        page = get(api, path, limit=limit, offset=offset, **params)
        assert isinstance(page, list)
        pages += 1
        out.extend(page)
        if len(page) < limit:
            return out, pages
        offset += limit


def test_paging_covers_every_client_once(api):
    all_clients, pages = page_all(api, "/clients", isArchived=1)
    ids = [c["id"] for c in all_clients]
    assert sorted(ids) == list(range(1, N_CLIENTS + 1))
    assert len(ids) == len(set(ids))
    assert pages == N_CLIENTS // 100 + 1   # 300 clients -> 3 full pages + 1 empty short page
    c = all_clients[0]
    for field in ("id", "userIdent", "firstName", "lastName", "companyName", "clientType", "isArchived",
                  "isActive", "accountBalance", "accountCredit", "accountOutstanding", "hasOverdueInvoice",
                  "hasSuspendedService", "registrationDate", "contacts", "attributes"):
        assert field in c
    assert c["registrationDate"].endswith("T00:00:00+0000")
    keys = {a["key"] for cl in all_clients for a in cl["attributes"]}
    assert keys == {"vip", "gracePaymentDay"}
    assert any(a["key"] == "vip" and a["value"] == "1" for cl in all_clients for a in cl["attributes"])
    assert any(cl["hasOverdueInvoice"] for cl in all_clients)
    desc = get(api, "/clients", limit=5, order="client.id", direction="DESC")
    assert [c["id"] for c in desc] == sorted([c["id"] for c in desc], reverse=True)


def test_is_archived_filter(api):
    default, _ = page_all(api, "/clients")
    everything, _ = page_all(api, "/clients", isArchived=1)
    archived = [c for c in everything if c["isArchived"]]
    assert archived, "expected some archived clients"
    assert not any(c["isArchived"] for c in default)
    assert len(default) + len(archived) == len(everything) == N_CLIENTS


def test_service_statuses(api):
    suspended = get(api, "/clients/services", **{"statuses[]": 3})
    assert suspended and all(s["status"] == 3 for s in suspended)
    assert all(any(p["endDate"] is None for p in s["suspensionPeriods"]) for s in suspended)
    both = get(api, "/clients/services", **{"statuses[]": [1, 3]})
    assert {s["status"] for s in both} == {1, 3}
    services, _ = page_all(api, "/clients/services")
    assert {s["status"] for s in services} == set(range(9))
    assert 1.2 < len(services) / N_CLIENTS < 1.8


def test_suspend_and_cancel(api):
    svc = get(api, "/clients/services", **{"statuses[]": 1, "limit": 1})[0]
    url = api.base + "/clients/services/%d" % svc["id"]
    r = api.patch(url + "/suspend", json={"suspensionReasonId": 1})
    assert r.status_code == 200 and r.content == b""
    after = get(api, "/clients/services/%d" % svc["id"])
    assert after["status"] == 3 and after["suspensionPeriods"][-1]["endDate"] is None
    r = api.patch(url + "/suspend", json={"suspensionReasonId": 1})
    assert r.status_code == 422 and r.json()["code"] == 422 and isinstance(r.json()["errors"], dict)
    assert api.patch(url + "/cancel-suspend").status_code == 200
    after = get(api, "/clients/services/%d" % svc["id"])
    assert after["status"] == 1 and after["suspensionPeriods"][-1]["endDate"] is not None


def test_invoice_status_consistent_with_amounts(api):
    invoices, _ = page_all(api, "/invoices", limit=500)
    assert 10 < len(invoices) / N_CLIENTS < 14
    assert {i["status"] for i in invoices} >= {1, 2, 3, 4}
    for inv in invoices:
        assert (inv["status"] == 3) == (inv["amountToPay"] == 0), inv
        assert abs(inv["amountPaid"] + inv["amountToPay"] - inv["total"]) < 0.005
        if inv["status"] == 2:
            assert 0 < inv["amountToPay"] < inv["total"]
    dates = [i["createdDate"] for i in invoices]
    assert dates == sorted(dates)
    day = invoices[len(invoices) // 2]["createdDate"][:10]
    same_day = get(api, "/invoices", createdDateFrom=day, createdDateTo=day)
    assert same_day and all(i["createdDate"][:10] == day for i in same_day)


def test_fake_controls_change_api(api, fake):
    cid = get(api, "/clients", limit=1)[0]["id"]
    requests.post(fake + "/__fake/clients/%d/archive" % cid).raise_for_status()
    assert cid not in [c["id"] for c in get(api, "/clients", limit=5)]
    assert get(api, "/clients/%d" % cid)["isArchived"] is True
    unpaid = get(api, "/invoices", **{"statuses[]": 1, "limit": 1})[0]
    requests.post(fake + "/__fake/invoices/%d/pay" % unpaid["id"]).raise_for_status()
    inv = get(api, "/invoices", clientId=unpaid["clientId"])
    inv = [i for i in inv if i["id"] == unpaid["id"]][0]
    assert inv["status"] == 3 and inv["amountToPay"] == 0 and inv["amountPaid"] == inv["total"]
    svc = get(api, "/clients/services", **{"statuses[]": 1, "limit": 1})[0]
    requests.post(fake + "/__fake/services/%d/suspend" % svc["id"]).raise_for_status()
    assert get(api, "/clients/services/%d" % svc["id"])["status"] == 3
    stats = requests.get(fake + "/__fake/stats").json()
    assert stats["requests"]["/crm/api/v1.0/clients"] >= 1


def test_post_payment(api):
    r = api.post(api.base + "/payments", json={"clientId": 1})
    assert r.status_code == 422
    assert r.json() == {"code": 422, "message": "Validation failed.",
                        "errors": {"amount": ["This value should not be blank."]}}
    unpaid = get(api, "/invoices", **{"statuses[]": 1, "limit": 1})[0]
    cid = unpaid["clientId"]
    open_before = [i for i in get(api, "/invoices", clientId=cid) if i["status"] in (1, 2)]
    owed = round(sum(i["amountToPay"] for i in open_before), 2)
    r = api.post(api.base + "/payments", json={"clientId": cid, "amount": owed + 5, "note": "test",
                                               "methodId": "6efe0fa8-36b2-4dd1-b049-427bffc7d369"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["Location"] == "/payments/%d" % body["id"]
    assert body["amount"] == round(owed + 5, 2) and body["clientId"] == cid
    assert {c["invoiceId"] for c in body["paymentCovers"]} == {i["id"] for i in open_before}
    assert body["creditAmount"] == 5.0
    after = get(api, "/invoices", clientId=cid)
    assert not [i for i in after if i["status"] in (1, 2)]
    assert body["id"] in [p["id"] for p in get(api, "/payments", clientId=cid)]
    client = get(api, "/clients/%d" % cid)
    assert client["accountOutstanding"] == 0 and client["accountCredit"] >= 5


def test_fault_fail_at_request(api, fake):
    requests.post(fake + "/__fake/faults", json={"fail_at_request": 3,
                                                 "fail_path_prefix": "/crm/api/v1.0/invoices"}).raise_for_status()
    get(api, "/clients", limit=1)   # not counted
    codes = [api.get(api.base + "/invoices", params={"limit": 1}) for _ in range(4)]
    assert [r.status_code for r in codes] == [200, 200, 500, 200]
    assert codes[2].json()["code"] == 500 and "message" in codes[2].json()


def test_fault_malformed_json(api, fake):
    requests.post(fake + "/__fake/faults", json={"malformed_json": True}).raise_for_status()
    r = api.get(api.base + "/clients", params={"limit": 2})
    assert r.status_code == 200
    with pytest.raises(ValueError):
        json.loads(r.text)


def test_fault_latency(api, fake):
    requests.post(fake + "/__fake/faults", json={"latency_ms": 300}).raise_for_status()
    t = time.perf_counter()
    get(api, "/clients", limit=1)
    assert time.perf_counter() - t >= 0.3


def test_fault_error_rate_429(api, fake):
    requests.post(fake + "/__fake/faults", json={"error_rate": 1.0, "error_status": 429}).raise_for_status()
    r = api.get(api.base + "/clients", params={"limit": 1})
    assert r.status_code == 429 and r.json() == {"code": 429, "message": "Too Many Requests."}


def test_keep_alive_no_nagle_stall(api):
    url = api.base + "/clients"
    api.get(url, params={"limit": 1}).raise_for_status()
    t = time.perf_counter()
    for _ in range(200):
        r = api.get(url, params={"limit": 1})
        assert r.status_code == 200
    assert time.perf_counter() - t < 2.0
