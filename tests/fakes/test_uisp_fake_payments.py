"""The fake UISP CRM's payments for bank posting and bulk reconciliation: DELETE /payments/<id>, stricter
POST /payments validation, providerPaymentId, the payment faults and the /__fake/ truth. All over real HTTP
to the fake running as its own process."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.fakes.servers import fake_uisp

KEY, RO_KEY = "test-key", "ro-key"
N_CLIENTS = 300
GATEWAY_TIMEOUT = {"code": 504, "message": "Gateway Timeout"}


@pytest.fixture(scope="module")
def fake():
    with fake_uisp(N_CLIENTS, KEY, "--read-only-key", RO_KEY, "--seed", "1") as root:
        yield root


@pytest.fixture
def api(fake):
    requests.post(fake + "/__fake/reset", timeout=30).raise_for_status()
    s = requests.Session()
    s.headers["X-Auth-App-Key"] = KEY
    s.base = fake + "/crm/api/v1.0"
    s.root = fake
    yield s
    s.close()


def get(api, path, **params):
    r = api.get(api.base + path, params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def post(api, **body):
    return api.post(api.base + "/payments", json=body, timeout=30)


def delete(api, pid):
    return api.delete(api.base + "/payments/%d" % pid, timeout=30)


def faults(api, **faults):
    r = requests.post(api.root + "/__fake/faults", json=faults, timeout=30)
    r.raise_for_status()
    return r.json()


def truth(api):
    return requests.get(api.root + "/__fake/payments", timeout=30).json()


def invoice_truth(api, iid):
    r = requests.get(api.root + "/__fake/invoices/%d" % iid, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def open_invoices(api, count):
    r = requests.post(api.root + "/__fake/invoices/open", json={"count": count}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["invoices"]


def unpaid_invoice(api):
    """An open invoice with nothing paid yet, as the truth sees it."""
    for inv in open_invoices(api, 100):
        if inv["status"] == 1:
            return inv
    raise AssertionError("no unpaid invoice in the fake")


def credit_of(api, cid):
    return get(api, "/clients/%d" % cid)["accountCredit"]


# ------------------------------------------------------------------------------------------------ DELETE
def test_delete_reverses_covers_and_credit(api):
    inv = unpaid_invoice(api)
    cid, iid = inv["clientId"], inv["id"]
    credit_before = credit_of(api, cid)
    listed_before = {p["id"] for p in get(api, "/payments", clientId=cid)}
    r = post(api, clientId=cid, amount=(inv["amountToPayCents"] + 750) / 100, invoiceIds=[iid],
             providerPaymentId="BANK-DEL-1")
    assert r.status_code == 201, r.text
    pay = r.json()
    assert [(c["invoiceId"], c["amount"]) for c in pay["paymentCovers"]] == [(iid, inv["amountToPay"])]
    assert pay["creditAmount"] == 7.5
    assert invoice_truth(api, iid)["status"] == 3
    assert credit_of(api, cid) == pytest.approx(credit_before + 7.5)

    r = delete(api, pay["id"])
    assert r.status_code == 200 and r.content == b""
    assert invoice_truth(api, iid) == {"id": iid, "clientId": cid, "totalCents": inv["totalCents"],
                                       "paidCents": 0, "status": 1}
    assert get(api, "/invoices/%d" % iid)["amountToPay"] == inv["amountToPay"]
    assert credit_of(api, cid) == pytest.approx(credit_before)
    r = api.get(api.base + "/payments/%d" % pay["id"], timeout=30)
    assert r.status_code == 404 and r.json() == {"code": 404, "message": "Object is not found."}
    assert {p["id"] for p in get(api, "/payments", clientId=cid)} == listed_before
    assert pay["id"] not in {p["id"] for p in get(api, "/payments", order="id", direction="DESC", limit=20)}
    assert get(api, "/payments", providerPaymentId="BANK-DEL-1") == []

    again = delete(api, pay["id"])
    assert again.status_code == 404 and again.json() == {"code": 404, "message": "Object is not found."}
    unknown = delete(api, 10 ** 7)
    assert unknown.status_code == 404 and unknown.json()["code"] == 404
    t = truth(api)
    assert t["payments"] == [] and t["deleted"] == [pay["id"]]
    assert t["posts"] == 1 and t["deletes"] == 3


def test_partial_payment_then_delete_restores_unpaid(api):
    inv = unpaid_invoice(api)
    half = inv["amountToPayCents"] // 2
    r = post(api, clientId=inv["clientId"], amount=half / 100, invoiceIds=[inv["id"]])
    assert r.status_code == 201, r.text
    after = invoice_truth(api, inv["id"])
    assert after["status"] == 2 and after["paidCents"] == half
    assert get(api, "/invoices/%d" % inv["id"])["status"] == 2
    assert delete(api, r.json()["id"]).status_code == 200
    restored = invoice_truth(api, inv["id"])
    assert restored["status"] == 1 and restored["paidCents"] == 0
    assert get(api, "/invoices/%d" % inv["id"])["status"] == 1


def test_delete_keeps_other_ids_and_never_reuses_one(api):
    first = get(api, "/payments", order="id", limit=3)
    victim, neighbour = first[1], first[2]
    paid = [c["invoiceId"] for c in victim["paymentCovers"]]
    assert delete(api, victim["id"]).status_code == 200
    for iid in paid:   # a generated payment fully paid its invoice: deleting it leaves the invoice unpaid
        assert invoice_truth(api, iid)["status"] == 1
    assert get(api, "/payments/%d" % neighbour["id"]) == neighbour
    assert get(api, "/payments/%d" % first[0]["id"]) == first[0]
    assert victim["id"] not in [p["id"] for p in get(api, "/payments", order="id", limit=3)]
    newest = get(api, "/payments", order="id", direction="DESC", limit=1)[0]["id"]
    created = post(api, clientId=1, amount=1).json()
    assert created["id"] == newest + 1
    assert requests.get(api.root + "/__fake/stats", timeout=30).json()["payments"] == newest   # one deleted, one added


def test_delete_needs_a_write_key(api):
    pid = get(api, "/payments", limit=1)[0]["id"]
    r = requests.delete(api.base + "/payments/%d" % pid, headers={"X-Auth-App-Key": RO_KEY}, timeout=30)
    assert r.status_code == 403 and r.json() == {"code": 403, "message": "Forbidden."}
    assert get(api, "/payments/%d" % pid)["id"] == pid


# ------------------------------------------------------------------------------------------------ POST validation
def test_invoice_ids_must_belong_to_the_client(api):
    a, b = open_invoices(api, 2)
    assert a["clientId"] != b["clientId"]
    r = post(api, clientId=a["clientId"], amount=10, invoiceIds=[a["id"], b["id"]])
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == 422 and body["message"] == "Validation failed."
    assert list(body["errors"]) == ["invoiceIds"] and str(b["id"]) in body["errors"]["invoiceIds"][0]
    r = post(api, clientId=a["clientId"], amount=10, invoiceIds=[10 ** 7])
    assert r.status_code == 422 and "invoiceIds" in r.json()["errors"]
    r = post(api, amount=10, invoiceIds=[a["id"]])   # unattached payments cannot name invoices
    assert r.status_code == 422 and "invoiceIds" in r.json()["errors"]
    assert truth(api)["payments"] == []
    assert invoice_truth(api, a["id"])["paidCents"] == a["totalCents"] - a["amountToPayCents"]


def test_void_invoice_is_refused(api):
    void = get(api, "/invoices", **{"statuses[]": 4, "limit": 1})[0]
    r = post(api, clientId=void["clientId"], amount=5, invoiceIds=[void["id"]])
    assert r.status_code == 422 and "void" in r.json()["errors"]["invoiceIds"][0]
    assert truth(api)["payments"] == []


def test_provider_payment_id_round_trips_and_lists_by_date(api):
    inv = unpaid_invoice(api)
    cid = inv["clientId"]
    r = post(api, clientId=cid, amount=inv["amountToPay"], invoiceIds=[inv["id"]], providerName="FNB",
             providerPaymentId="FNB-2031-0115-001", createdDate="2031-01-15T09:30:00+0000",
             methodId="4145b5f5-3bbc-45e3-8fc5-9cda970c62fb")
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    one = get(api, "/payments/%d" % pid)
    assert one["providerPaymentId"] == "FNB-2031-0115-001" and one["providerName"] == "FNB"
    assert one["createdDate"] == "2031-01-15T09:30:00+0000"
    listed = get(api, "/payments", clientId=cid, createdDateFrom="2031-01-15")
    assert [p["id"] for p in listed] == [pid]
    assert listed[0]["providerPaymentId"] == "FNB-2031-0115-001"
    assert [(c["invoiceId"], c["amount"]) for c in listed[0]["paymentCovers"]] == [(inv["id"], inv["amountToPay"])]
    assert get(api, "/payments", clientId=cid, createdDateFrom="2031-01-16") == []
    assert [p["id"] for p in get(api, "/payments", createdDateFrom="2031-01-15", createdDateTo="2031-01-15")] == [pid]
    assert [p["id"] for p in get(api, "/payments", providerPaymentId="FNB-2031-0115-001")] == [pid]
    assert [p["id"] for p in get(api, "/payments", providerPaymentId="FNB-2031-0115-001", clientId=cid)] == [pid]
    assert get(api, "/payments", providerPaymentId="FNB-2031-0115-001", clientId=cid % N_CLIENTS + 1) == []
    assert get(api, "/payments", providerPaymentId="nope") == []
    t = truth(api)["payments"]
    assert t == [{"id": pid, "clientId": cid, "amount": inv["amountToPay"], "amountCents": inv["amountToPayCents"],
                  "createdDate": "2031-01-15T09:30:00+0000", "providerName": "FNB",
                  "providerPaymentId": "FNB-2031-0115-001", "invoiceIds": [inv["id"]],
                  "covers": [{"invoiceId": inv["id"], "amountCents": inv["amountToPayCents"]}]}]


# ------------------------------------------------------------------------------------------------ faults
def test_lose_answer_at_creates_but_answers_504(api):
    a, b, c = open_invoices(api, 3)
    faults(api, payments_lose_answer_at=2)
    assert post(api, clientId=a["clientId"], amount=1, invoiceIds=[a["id"]]).status_code == 201
    lost = post(api, clientId=b["clientId"], amount=1, invoiceIds=[b["id"]], providerPaymentId="LOST-1")
    assert lost.status_code == 504 and lost.json() == GATEWAY_TIMEOUT
    assert post(api, clientId=c["clientId"], amount=1, invoiceIds=[c["id"]]).status_code == 201
    t = truth(api)
    assert [p["clientId"] for p in t["payments"]] == [a["clientId"], b["clientId"], c["clientId"]]
    ghost = t["payments"][1]
    assert ghost["providerPaymentId"] == "LOST-1" and ghost["invoiceIds"] == [b["id"]]
    # The client never saw the id, but the payment is there for anyone who looks it up.
    assert [p["id"] for p in get(api, "/payments", providerPaymentId="LOST-1")] == [ghost["id"]]
    assert invoice_truth(api, b["id"])["paidCents"] == b["totalCents"] - b["amountToPayCents"] + 100


def test_lose_answer_rate_is_random_but_seeded(api):
    def run():
        faults(api, payments_lose_answer_rate=0.5)
        return [post(api, clientId=1, amount=1).status_code for _ in range(30)]

    first = run()
    assert set(first) == {201, 504}
    assert truth(api)["posts"] == 30 and len(truth(api)["payments"]) == 30   # every one was created
    assert run() == first   # setting the faults again restarts the seeded sequence
    faults(api, payments_lose_answer_rate=1.0)
    assert post(api, clientId=1, amount=1).json() == GATEWAY_TIMEOUT
    assert len(truth(api)["payments"]) == 61


def test_refuse_at_creates_nothing(api):
    faults(api, payments_refuse_at=2)
    assert post(api, clientId=1, amount=1).status_code == 201
    r = post(api, clientId=1, amount=1, providerPaymentId="REFUSED")
    assert r.status_code == 422
    assert r.json() == {"code": 422, "message": "Validation failed.",
                        "errors": {"amount": ["Payment refused by the fake (payments_refuse_at)"]}}
    assert post(api, clientId=1, amount=1).status_code == 201
    t = truth(api)
    assert len(t["payments"]) == 2 and t["posts"] == 3
    assert "REFUSED" not in [p["providerPaymentId"] for p in t["payments"]]
    assert get(api, "/payments", providerPaymentId="REFUSED") == []


def test_refuse_invoice_ids(api):
    a, b = open_invoices(api, 2)
    faults(api, payments_refuse_invoice_ids=[a["id"]])
    before = invoice_truth(api, a["id"])
    r = post(api, clientId=a["clientId"], amount=1, invoiceIds=[a["id"]])
    assert r.status_code == 422 and r.json()["message"] == "Validation failed."
    assert "payments_refuse_invoice_ids" in r.json()["errors"]["invoiceIds"][0]
    # Applied automatically, the payment would cover the client's oldest open invoice: refused too.
    oldest = [i for i in get(api, "/invoices", clientId=a["clientId"]) if i["status"] in (1, 2)][0]
    assert oldest["id"] == a["id"]
    assert post(api, clientId=a["clientId"], amount=1).status_code == 422
    assert invoice_truth(api, a["id"]) == before
    assert truth(api)["payments"] == []
    assert post(api, clientId=b["clientId"], amount=1, invoiceIds=[b["id"]]).status_code == 201
    assert [p["invoiceIds"] for p in truth(api)["payments"]] == [[b["id"]]]


def test_hang_at_creates_then_stalls(api):
    faults(api, payments_hang_at=1, payments_hang_ms=2000)
    t0 = time.perf_counter()
    with pytest.raises(requests.exceptions.ReadTimeout):   # the client gives up mid-request
        api.post(api.base + "/payments", json={"clientId": 1, "amount": 3, "providerPaymentId": "HUNG-1"},
                 timeout=0.5)
    assert time.perf_counter() - t0 < 1.5
    # Created before the stall, and the fake keeps serving everyone else meanwhile.
    assert [p["providerPaymentId"] for p in truth(api)["payments"]] == ["HUNG-1"]
    t1 = time.perf_counter()
    assert get(api, "/payments", providerPaymentId="HUNG-1")[0]["amount"] == 3
    assert post(api, clientId=1, amount=1).status_code == 201   # only the first POST hangs
    assert time.perf_counter() - t1 < 1.0
    time.sleep(1.6)   # let the hung request finish before the next test resets the fake


def test_payment_fault_counter_counts_only_posts_and_resets_with_faults(api):
    faults(api, payments_refuse_at=2)
    assert post(api, clientId=1, amount=1).status_code == 201
    for _ in range(3):   # GETs and DELETEs do not advance the POST counter
        get(api, "/payments", clientId=1)
    assert delete(api, 10 ** 7).status_code == 404
    assert post(api, clientId=1, amount=1).status_code == 422
    faults(api, payments_refuse_at=1)   # setting faults restarts the counter
    assert post(api, clientId=1, amount=1).status_code == 422
    assert post(api, clientId=1, amount=1).status_code == 201
    faults(api, payments_refuse_at=1)
    assert post(api, clientId=1, amount=1).status_code == 422
    faults(api)   # no faults at all
    assert all(post(api, clientId=1, amount=1).status_code == 201 for _ in range(3))
    requests.post(api.root + "/__fake/reset", timeout=30).raise_for_status()
    t = truth(api)
    assert t == {"payments": [], "deleted": [], "posts": 0, "deletes": 0}


def test_latency_still_applies_next_to_payment_faults(api):
    faults(api, latency_ms=200, payments_refuse_at=5)
    t0 = time.perf_counter()
    get(api, "/clients", limit=1)
    assert time.perf_counter() - t0 >= 0.2
    t0 = time.perf_counter()
    assert post(api, clientId=1, amount=1).status_code == 201
    assert time.perf_counter() - t0 >= 0.2


def test_fault_keys_are_checked(api):
    r = requests.post(api.root + "/__fake/faults", json={"payments_lose_answer": 1}, timeout=30)
    assert r.status_code == 400 and "payments_lose_answer" in r.json()["message"]
    r = requests.post(api.root + "/__fake/faults", json={"payments_refuse_invoice_ids": 5}, timeout=30)
    assert r.status_code == 400


# ------------------------------------------------------------------------------------------------ truth
def test_open_invoices_spread_over_clients(api):
    invoices = open_invoices(api, 40)
    assert len(invoices) == 40 and len({i["id"] for i in invoices}) == 40
    assert len({i["clientId"] for i in invoices}) == 40   # one per client while there are clients left
    for inv in invoices[:10]:
        t = invoice_truth(api, inv["id"])
        assert t["status"] in (1, 2) and t["clientId"] == inv["clientId"]
        assert t["totalCents"] - t["paidCents"] == inv["amountToPayCents"] > 0
        assert get(api, "/invoices/%d" % inv["id"])["amountToPay"] == inv["amountToPay"]
    everything = open_invoices(api, 10 ** 6)
    listed = [i for i in get(api, "/invoices", **{"statuses[]": [1, 2]})
              if not get_archived(api, i["clientId"])]
    assert {i["id"] for i in everything} == {i["id"] for i in listed}
    assert open_invoices(api, 0) == []
    r = requests.get(api.root + "/__fake/invoices/%d" % 10 ** 7, timeout=30)
    assert r.status_code == 404 and r.json()["code"] == 404


_archived = {}


def get_archived(api, cid):
    if cid not in _archived:
        _archived[cid] = get(api, "/clients/%d" % cid)["isArchived"]
    return _archived[cid]


# ------------------------------------------------------------------------------------------------ load
def test_thousand_posts_and_deletes_at_eight_clients(api, fake):
    targets = open_invoices(api, 250)
    before = {i["id"]: invoice_truth(api, i["id"]) for i in targets}
    local = threading.local()

    def session():
        if not hasattr(local, "s"):
            local.s = requests.Session()
            local.s.headers["X-Auth-App-Key"] = KEY
        return local.s

    def make(k):
        inv = targets[k % len(targets)]
        r = session().post(api.base + "/payments", timeout=30,
                           json={"clientId": inv["clientId"], "amount": 0.01, "invoiceIds": [inv["id"]],
                                 "providerPaymentId": "LOAD-%d" % k})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def drop(pid):
        r = session().delete(api.base + "/payments/%d" % pid, timeout=30)
        assert r.status_code == 200, r.text

    t0 = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(make, range(1000)))
        mid = truth(api)
        list(pool.map(drop, ids))
    elapsed = time.perf_counter() - t0
    assert len(set(ids)) == 1000 and len(mid["payments"]) == 1000 and mid["posts"] == 1000
    t = truth(api)
    assert t["payments"] == [] and sorted(t["deleted"]) == sorted(ids) and t["deletes"] == 1000
    for iid, was in before.items():
        assert invoice_truth(api, iid) == was
    assert elapsed < 30, elapsed
