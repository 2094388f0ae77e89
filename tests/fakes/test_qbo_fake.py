"""The fake QuickBooks Online (app.fakes.qbo, and both fakes on one port: app.fakes.epos_qbo), run as real
subprocesses and reached only over HTTP, as the connector reaches them."""
import threading
import time

import pytest
import requests

from app.connectors.base import FakeSource
from app.fakes.launch import running

QBO = FakeSource(server=("-m", "app.fakes.qbo"))
CLIENT = ("demo-client", "demo-secret")
R1, R2, R3 = "9130000000000001", "9130000000000002", "9130000000000003"
AUTH_FAULT = {"Error": [{"Message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                         "Detail": "Token expired or invalid", "code": "3200"}], "type": "AUTHENTICATION"}
THROTTLE_FAULT = {"Error": [{"Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                             "Detail": "The request limit was reached.", "code": "3001"}], "type": "SERVICE"}
DAYS_101 = 8_726_400


@pytest.fixture(scope="module")
def qbo_url():
    with running(QBO, "--realms", 3) as url:
        yield url


@pytest.fixture(scope="module")
def tight_url():
    """A second instance with small windows: 5 requests and 2 batches a minute per realm."""
    with running(QBO, "--realms", 3, "--rate-per-minute", 5, "--batch-per-minute", 2) as url:
        yield url


class Qbo:
    """The fake over HTTP: OAuth, /v3 calls as a realm (its current access token by default), /_fake/."""

    def __init__(self, url):
        self.url = url
        self.session = requests.Session()
        self.tokens = {r["realm"]: r["access_token"] for r in self.control("realms", {"count": 3})["realms"]}

    def oauth(self, refresh_token, auth=CLIENT, **form):
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **form}
        return self.session.post(f"{self.url}/oauth2/v1/tokens/bearer", data=data, auth=auth, timeout=10)

    def call(self, method, realm, path, token=None, **kwargs):
        headers = {"Authorization": f"Bearer {token or self.tokens[realm]}", **kwargs.pop("headers", {})}
        return self.session.request(method, f"{self.url}/v3/company/{realm}/{path}", headers=headers,
                                    timeout=10, **kwargs)

    def create(self, body, realm=R1, entity="salesreceipt", requestid=None):
        params = {"minorversion": 70, **({"requestid": requestid} if requestid else {})}
        return self.call("POST", realm, entity, json=body, params=params)

    def created(self, body, realm=R1, entity="salesreceipt"):
        response = self.create(body, realm, entity)
        assert response.status_code == 200, response.text
        return response.json()["SalesReceipt" if entity == "salesreceipt" else "RefundReceipt"]

    def query(self, text, realm=R1):
        return self.call("GET", realm, "query", params={"query": text})

    def batch(self, items, realm=R1, requestid=None):
        params = {"requestid": requestid} if requestid else {}
        return self.call("POST", realm, "batch", json={"BatchItemRequest": items}, params=params)

    def control(self, name, body=None):
        response = self.session.post(f"{self.url}/_fake/{name}", json=body or {}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def faults(self, **faults):
        return self.control("faults", faults)

    def advance(self, seconds):
        return self.control("clock", {"advance": seconds})

    def truth(self, realm=R1):
        return self.session.get(f"{self.url}/_fake/truth", params={"realm": realm}, timeout=10).json()


@pytest.fixture
def qbo(qbo_url):
    requests.post(f"{qbo_url}/_fake/reset", timeout=10).raise_for_status()
    api = Qbo(qbo_url)
    yield api
    api.session.close()


@pytest.fixture
def tight(tight_url):
    requests.post(f"{tight_url}/_fake/reset", timeout=10).raise_for_status()
    api = Qbo(tight_url)
    yield api
    api.session.close()


def receipt(doc="S-1", date="2026-03-20", amounts=(10.0, 2.5), **changes):
    lines = [{"Amount": a, "Description": f"Line {n}", "DetailType": "SalesItemLineDetail",
              "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": a}}
             for n, a in enumerate(amounts)]
    return {"DocNumber": doc, "TxnDate": date, "PrivateNote": "EPOS day", "Line": lines,
            "DepositToAccountRef": {"value": "35"}, **changes}


def assert_fault(response, status, kind, code=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["Fault"]["type"] == kind and body["time"], body
    error = body["Fault"]["Error"][0]
    assert set(error) == {"Message", "Detail", "code"}
    if code:
        assert error["code"] == code, body
    return error


# ---------------------------------------------------------------------------------- OAuth
def test_realms_start_with_tokens_a_demo_can_store(qbo):
    realms = qbo.control("realms", {"count": 4})["realms"]
    assert [r["realm"] for r in realms] == [R1, R2, R3, "9130000000000004"]
    assert realms[1] == {"realm": R2, "access_token": f"at-{R2}-0", "refresh_token": f"rt-{R2}-0"}
    four = qbo.call("GET", "9130000000000004", "query", token="at-9130000000000004-0",
                    params={"query": "select count(*) from SalesReceipt"})
    assert four.status_code == 200 and four.json()["QueryResponse"] == {"totalCount": 0}


def test_every_refresh_rotates_and_the_used_refresh_token_dies(qbo):
    first = qbo.oauth(f"rt-{R1}-0")
    assert first.status_code == 200
    tokens = first.json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in", "x_refresh_token_expires_in"}
    assert (tokens["token_type"], tokens["expires_in"], tokens["x_refresh_token_expires_in"]) == \
        ("bearer", 3600, DAYS_101)
    assert tokens["refresh_token"] != f"rt-{R1}-0" and tokens["access_token"] != f"at-{R1}-0"
    again = qbo.oauth(f"rt-{R1}-0")
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}
    second = qbo.oauth(tokens["refresh_token"], auth=None, client_id=CLIENT[0], client_secret=CLIENT[1])
    assert second.status_code == 200 and second.json()["refresh_token"] != tokens["refresh_token"]
    for token in (f"at-{R1}-0", tokens["access_token"], second.json()["access_token"]):
        assert qbo.call("GET", R1, "query", token=token, params={"query": "select * from SalesReceipt"}) \
            .status_code == 200  # earlier access tokens live out their hour
    assert qbo.truth()["refreshes"] == 2
    current = qbo.control("realms", {"count": 1})["realms"][0]
    assert current["refresh_token"] == second.json()["refresh_token"]


def test_the_token_endpoint_refuses_a_wrong_client_or_grant(qbo):
    for auth in (("demo-client", "wrong"), ("other", "demo-secret")):
        response = qbo.oauth(f"rt-{R1}-0", auth=auth)
        assert response.status_code == 401 and response.json() == {"error": "invalid_client"}
    assert qbo.oauth(f"rt-{R1}-0", auth=None).json() == {"error": "invalid_client"}
    response = qbo.oauth(f"rt-{R1}-0", grant_type="authorization_code")
    assert response.status_code == 400 and response.json() == {"error": "unsupported_grant_type"}
    assert qbo.oauth("rt-nothing").json() == {"error": "invalid_grant"}
    assert qbo.oauth(f"rt-{R1}-0").status_code == 200  # none of the refusals used it up


def test_an_access_token_expires_after_an_hour_on_the_fake_clock(qbo):
    assert qbo.query("select * from SalesReceipt").status_code == 200
    assert qbo.advance(3599)["offset"] == 3599
    assert qbo.query("select * from SalesReceipt").status_code == 200
    qbo.advance(2)
    expired = qbo.query("select * from SalesReceipt")
    assert expired.status_code == 401 and expired.json()["Fault"] == AUTH_FAULT
    clock = qbo.session.get(f"{qbo.url}/_fake/clock", timeout=10).json()
    assert clock["offset"] == 3601 and clock["now"][:4].isdigit()
    fresh = qbo.oauth(f"rt-{R1}-0").json()["access_token"]
    assert qbo.call("GET", R1, "query", token=fresh, params={"query": "select * from SalesReceipt"}) \
        .status_code == 200


def test_a_refresh_token_expires_after_101_days(qbo):
    qbo.advance(DAYS_101 - 60)
    renewed = qbo.oauth(f"rt-{R1}-0")
    assert renewed.status_code == 200
    qbo.advance(120)
    assert qbo.oauth(f"rt-{R2}-0").json() == {"error": "invalid_grant"}  # never refreshed: 101 days are up
    assert qbo.oauth(renewed.json()["refresh_token"]).status_code == 200  # its 101 days began at the refresh
    qbo.advance(DAYS_101)
    assert qbo.oauth(qbo.control("realms", {"count": 1})["realms"][0]["refresh_token"]).json() == \
        {"error": "invalid_grant"}


def test_revoking_stops_the_realms_tokens(qbo):
    revoked = qbo.session.post(f"{qbo.url}/oauth2/v1/tokens/revoke", json={"token": f"rt-{R1}-0"}, auth=CLIENT,
                               timeout=10)
    assert revoked.status_code == 200
    assert qbo.oauth(f"rt-{R1}-0").json() == {"error": "invalid_grant"}
    assert qbo.query("select * from SalesReceipt").json()["Fault"] == AUTH_FAULT
    assert qbo.query("select * from SalesReceipt", realm=R2).status_code == 200
    qbo.control("revoke", {"realm": R2})
    assert qbo.query("select * from SalesReceipt", realm=R2).status_code == 401
    assert qbo.oauth(f"rt-{R2}-0").json() == {"error": "invalid_grant"}
    assert qbo.oauth(f"rt-{R3}-0").status_code == 200
    qbo.control("reset")
    assert qbo.oauth(f"rt-{R1}-0").status_code == 200


def test_the_api_needs_that_realms_live_access_token(qbo):
    text = {"query": "select * from SalesReceipt"}
    bare = requests.get(f"{qbo.url}/v3/company/{R1}/query", params=text, timeout=10)
    assert bare.status_code == 401 and bare.json()["Fault"] == AUTH_FAULT and bare.json()["time"]
    assert qbo.call("GET", R1, "query", token=f"at-{R2}-0", params=text).json()["Fault"] == AUTH_FAULT
    assert qbo.call("GET", R1, "query", token="made-up", params=text).status_code == 401
    assert_fault(qbo.call("GET", "9130000000000099", "query", token=f"at-{R1}-0", params=text), 404,
                 "ValidationFault")


# ---------------------------------------------------------------------------------- receipts
def test_a_sales_receipt_is_created_and_a_repeated_requestid_creates_nothing(qbo):
    first = qbo.create(receipt(amounts=(10.0, 2.505, 0.1)), requestid="day-1")
    assert first.status_code == 200
    stored = first.json()["SalesReceipt"]
    assert (stored["Id"], stored["SyncToken"], stored["TotalAmt"]) == ("1", "0", 12.61)
    assert stored["DocNumber"] == "S-1" and stored["Line"][1]["Amount"] == 2.505
    assert stored["MetaData"]["CreateTime"] and first.json()["time"]
    again = qbo.create(receipt(amounts=(99.0,)), requestid="day-1")
    assert again.status_code == 200 and again.json() == first.json()
    assert [r["Id"] for r in qbo.truth()["receipts"]] == ["1"]
    refund = qbo.created(receipt(doc="S-1"), entity="refundreceipt")  # its own DocNumbers
    assert refund["Id"] == "2" and refund["TotalAmt"] == 12.5
    assert qbo.created(receipt(doc="S-2"), realm=R2)["Id"] == "1"  # every realm counts on its own
    assert qbo.truth()["receipts"] == [
        {"Id": "1", "DocNumber": "S-1", "TxnDate": "2026-03-20", "TotalAmt": 12.61, "type": "SalesReceipt"},
        {"Id": "2", "DocNumber": "S-1", "TxnDate": "2026-03-20", "TotalAmt": 12.5, "type": "RefundReceipt"}]
    read = qbo.call("GET", R1, "salesreceipt/1")
    assert read.status_code == 200 and read.json()["SalesReceipt"] == stored


def test_a_repeated_doc_number_is_refused_6140(qbo):
    qbo.created(receipt(doc="DAY-0320"))
    error = assert_fault(qbo.create(receipt(doc="DAY-0320", amounts=(1.0,))), 400, "ValidationFault", "6140")
    assert error["Message"] == "Duplicate Document Number Error"
    assert len(qbo.truth()["receipts"]) == 1 and qbo.truth()["duplicates_refused"] == 1


def _line(**changes):
    line = {"Amount": 5, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}
    return {**line, **changes}


@pytest.mark.parametrize("body, code, named", [
    ({"Line": None}, "2020", "Line"),
    ({"Line": []}, "2020", "Line"),
    ({"Line": [_line(), {"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}]},
     "2020", "Line[1].Amount"),
    ({"Line": [_line(SalesItemLineDetail={"Qty": 1})]}, "2020", "ItemRef"),
    ({"Line": [{"Amount": 5, "DetailType": "SalesItemLineDetail"}]}, "2020", "ItemRef"),
    ({"Line": [_line(Amount=-0.01)]}, "6000", "negative"),
    ({"Line": [_line(Amount="5")]}, "6000", "Amount"),
    ({"TxnDate": "2026-02-30"}, "6000", "TxnDate"),
    ({"TxnDate": "20/03/2026"}, "6000", "TxnDate"),
    ({"DocNumber": "X" * 22}, "6000", "DocNumber"),
])
def test_an_invalid_receipt_is_a_validation_fault_naming_the_problem(qbo, body, code, named):
    error = assert_fault(qbo.create(receipt(**body)), 400, "ValidationFault", code)
    assert named in error["Message"], error
    assert qbo.truth()["receipts"] == []
    assert qbo.created(receipt(doc="X" * 21))["DocNumber"] == "X" * 21


def test_a_batch_creates_each_item_on_its_own(qbo):
    items = [{"bId": "1", "operation": "create", "SalesReceipt": receipt(doc="B-1")},
             {"bId": "2", "operation": "create", "SalesReceipt": receipt(doc="B-2", Line=[])},
             {"bId": "3", "operation": "create", "RefundReceipt": receipt(doc="B-3", amounts=(4.0,))}]
    response = qbo.batch(items, requestid="batch-1")
    assert response.status_code == 200 and response.json()["time"]
    answers = response.json()["BatchItemResponse"]
    assert [a["bId"] for a in answers] == ["1", "2", "3"]
    assert answers[0]["SalesReceipt"]["DocNumber"] == "B-1" and answers[2]["RefundReceipt"]["TotalAmt"] == 4.0
    assert answers[1]["Fault"]["type"] == "ValidationFault" and answers[1]["Fault"]["Error"][0]["code"] == "2020"
    assert qbo.batch(items, requestid="batch-1").json() == response.json()
    truth = qbo.truth()
    assert [r["DocNumber"] for r in truth["receipts"]] == ["B-1", "B-3"] and truth["batches"] == 2
    duplicate = qbo.batch(items[:1]).json()["BatchItemResponse"][0]
    assert duplicate["Fault"]["Error"][0]["code"] == "6140"


def test_a_batch_over_the_limit_is_refused_whole(qbo):
    items = [{"bId": str(n), "operation": "create", "SalesReceipt": receipt(doc=f"B-{n}")} for n in range(31)]
    assert_fault(qbo.batch(items), 400, "ValidationFault")
    assert qbo.truth()["receipts"] == []
    assert len(qbo.batch(items[:30]).json()["BatchItemResponse"]) == 30


# ---------------------------------------------------------------------------------- queries
def _seed_receipts(qbo):
    for n, date in enumerate(["2026-03-18", "2026-03-19", "2026-03-19", "2026-03-20", "2026-03-21"], 1):
        qbo.created(receipt(doc=f"D-{n}", date=date, amounts=(float(n),)))
    qbo.created(receipt(doc="R-1", date="2026-03-19"), entity="refundreceipt")


def _docs(response, entity="SalesReceipt"):
    assert response.status_code == 200, response.text
    return [r["DocNumber"] for r in response.json()["QueryResponse"].get(entity, [])]


def test_queries_filter_by_date_doc_number_and_id(qbo):
    _seed_receipts(qbo)
    assert _docs(qbo.query("select * from SalesReceipt where TxnDate = '2026-03-19'")) == ["D-2", "D-3"]
    assert _docs(qbo.query("SELECT * FROM salesreceipt WHERE TxnDate >= '2026-03-19' AND TxnDate <= '2026-03-20'"
                           " ORDERBY Id")) == ["D-2", "D-3", "D-4"]
    assert _docs(qbo.query("select * from SalesReceipt where DocNumber IN ('D-5', 'D-1', 'nope')")) == ["D-1", "D-5"]
    assert _docs(qbo.query("select * from SalesReceipt where DocNumber = 'D-4'")) == ["D-4"]
    assert _docs(qbo.query("select * from SalesReceipt where Id = '2'")) == ["D-2"]
    assert _docs(qbo.query("select * from RefundReceipt where TxnDate = '2026-03-19'"), "RefundReceipt") == ["R-1"]
    nothing = qbo.query("select * from SalesReceipt where DocNumber = 'R-1'")
    assert nothing.status_code == 200 and nothing.json()["QueryResponse"] == {} and nothing.json()["time"]
    count = qbo.query("select count(*) from SalesReceipt where TxnDate >= '2026-03-19'")
    assert count.json()["QueryResponse"] == {"totalCount": 4}
    posted = qbo.call("POST", R1, "query", data="select count(*) from RefundReceipt",
                      headers={"Content-Type": "application/text"})
    assert posted.json()["QueryResponse"] == {"totalCount": 1}


def test_startposition_and_maxresults_page_through_in_id_order(qbo):
    _seed_receipts(qbo)
    pages = []
    for start in (1, 3, 5, 7):
        response = qbo.query(f"select * from SalesReceipt orderby Id STARTPOSITION {start} MAXRESULTS 2")
        body = response.json()["QueryResponse"]
        pages.append(_docs(response))
        if body:
            assert body["startPosition"] == start and body["maxResults"] == len(pages[-1])
    assert pages == [["D-1", "D-2"], ["D-3", "D-4"], ["D-5"], []]
    everything = qbo.query("select * from SalesReceipt").json()["QueryResponse"]
    assert everything["startPosition"] == 1 and everything["maxResults"] == 5


@pytest.mark.parametrize("text", [
    "", "select * from Invoice", "select Id from SalesReceipt", "delete from SalesReceipt",
    "select * from SalesReceipt where TotalAmt = '5'", "select * from SalesReceipt where TxnDate = 'March'",
    "select * from SalesReceipt where DocNumber >= 'A'", "select * from SalesReceipt maxresults 1001",
    "select * from SalesReceipt startposition 0", "select * from SalesReceipt where DocNumber = 'unclosed",
    "select * from SalesReceipt where TxnDate = '2026-03-19' or TxnDate = '2026-03-20'",
])
def test_an_unsupported_query_is_a_parse_error(qbo, text):
    error = assert_fault(qbo.query(text), 400, "ValidationFault", "4000")
    assert error["Message"] == "Error parsing query"


# ---------------------------------------------------------------------------------- limits
def _await(condition, seconds=5):
    """Poll the fake until condition() holds (each poll is an HTTP round trip, no sleeping)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"


def test_the_eleventh_concurrent_request_is_throttled(qbo):
    qbo.faults(latency_ms=1500, realm=R1)
    statuses = []

    def call():  # a connection of its own per thread, so the requests overlap
        response = requests.get(f"{qbo.url}/v3/company/{R1}/query", params={"query": "select * from SalesReceipt"},
                                headers={"Authorization": f"Bearer at-{R1}-0"}, timeout=10)
        statuses.append(response.status_code)
    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    _await(lambda: qbo.truth()["in_flight"] == 10)
    eleventh = qbo.query("select * from SalesReceipt")
    assert eleventh.status_code == 429 and eleventh.json()["Fault"] == THROTTLE_FAULT
    assert int(eleventh.headers["Retry-After"]) >= 1
    started = time.monotonic()
    assert qbo.query("select * from SalesReceipt", realm=R2).status_code == 200  # the limit is per realm
    assert time.monotonic() - started < 1
    for thread in threads:
        thread.join()
    assert statuses == [200] * 10
    truth = qbo.truth()
    assert (truth["max_in_flight"], truth["throttled"], truth["in_flight"]) == (10, 1, 0)


def test_the_rate_window_throttles_past_its_limit(tight):
    answers = [tight.query("select * from SalesReceipt") for _ in range(6)]
    assert [r.status_code for r in answers] == [200] * 5 + [429]
    assert answers[5].json()["Fault"] == THROTTLE_FAULT
    assert 1 <= int(answers[5].headers["Retry-After"]) <= 60
    assert tight.query("select * from SalesReceipt", realm=R2).status_code == 200
    truth = tight.truth()
    assert (truth["requests"], truth["throttled"]) == (6, 1)
    limits = tight.session.get(f"{tight.url}/_fake/limits", timeout=10).json()
    assert (limits["rate_per_minute"], limits["batch_per_minute"], limits["concurrency"], limits["max_batch"]) == \
        (5, 2, 10, 30)


def test_the_batch_window_throttles_batches_only(tight):
    item = [{"bId": "1", "operation": "create", "SalesReceipt": receipt(doc="W-1")}]
    answers = [tight.batch(item, realm=R3) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert answers[2].json()["Fault"] == THROTTLE_FAULT and int(answers[2].headers["Retry-After"]) >= 1
    assert tight.query("select * from SalesReceipt", realm=R3).status_code == 200  # 3 of 5 used
    assert tight.truth(R3)["batches"] == 2


# ---------------------------------------------------------------------------------- faults
def test_fail_next_answers_a_fault_and_creates_nothing(qbo):
    qbo.faults(fail_next=2, status=503)
    for _ in range(2):
        assert_fault(qbo.create(receipt(), requestid="r-1"), 503, "SystemFault")
    assert qbo.truth()["receipts"] == []
    assert qbo.create(receipt(), requestid="r-1").status_code == 200  # not remembered: nothing was done
    qbo.faults(fail_next=1)
    assert_fault(qbo.query("select * from SalesReceipt"), 500, "SystemFault")
    qbo.faults(fail_next=1, status=429)
    throttled = qbo.query("select * from SalesReceipt")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert throttled.json()["Fault"] == THROTTLE_FAULT
    assert len(qbo.truth()["receipts"]) == 1


def test_malformed_next_answers_truncated_json_and_creates_nothing(qbo):
    qbo.faults(malformed_next=2)
    for response in (qbo.create(receipt()), qbo.query("select * from SalesReceipt")):
        assert response.status_code == 200
        with pytest.raises(ValueError):
            response.json()
    assert qbo.truth()["receipts"] == []
    assert qbo.create(receipt()).json()["SalesReceipt"]["Id"] == "1"


def test_accept_then_fail_stores_the_receipt_though_the_client_sees_500(qbo):
    qbo.faults(accept_then_fail_next=1)
    lost = qbo.create(receipt(doc="L-1"), requestid="lost")
    assert_fault(lost, 500, "SystemFault")
    assert [r["DocNumber"] for r in qbo.truth()["receipts"]] == ["L-1"]
    retried = qbo.create(receipt(doc="L-1"), requestid="lost")
    assert retried.status_code == 200 and retried.json()["SalesReceipt"]["Id"] == "1"
    assert len(qbo.truth()["receipts"]) == 1
    qbo.faults(accept_then_fail_next=1)
    assert qbo.query("select * from SalesReceipt").status_code == 200  # reads are not writes
    batch = qbo.batch([{"bId": "1", "operation": "create", "SalesReceipt": receipt(doc="L-2")}])
    assert batch.status_code == 500
    assert [r["DocNumber"] for r in qbo.truth()["receipts"]] == ["L-1", "L-2"]
    assert qbo.truth()["faulted"] == 2


def test_hang_next_waits_inside_the_slot_then_answers(qbo):
    qbo.faults(hang_next=1, hang_seconds=0.4)
    started = time.monotonic()
    assert qbo.create(receipt()).status_code == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    assert qbo.create(receipt(doc="S-2")).status_code == 200
    assert time.monotonic() - started < 0.3
    assert qbo.truth()["max_in_flight"] == 1


def test_reject_doc_and_realm_scoped_faults(qbo):
    qbo.faults(reject_doc=["BAD-1"], realm=R1)
    error = assert_fault(qbo.create(receipt(doc="BAD-1")), 400, "ValidationFault", "6000")
    assert error["Message"] == "Rejected by the test"
    assert qbo.created(receipt(doc="BAD-1"), realm=R2)["DocNumber"] == "BAD-1"
    qbo.faults(fail_next=1, realm=R2)
    assert qbo.create(receipt(doc="OK-1")).status_code == 200
    assert qbo.create(receipt(doc="OK-1"), realm=R2).status_code == 500
    assert qbo.created(receipt(doc="BAD-1"))["Id"] == "2"  # faults replaced: BAD-1 is no longer rejected


def test_latency_delays_every_v3_request(qbo):
    qbo.faults(latency_ms=300)
    started = time.monotonic()
    assert qbo.query("select * from SalesReceipt").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert qbo.session.get(f"{qbo.url}/_fake/limits", timeout=10).json()["latency_ms_in_force"] == 300


def test_reset_restores_receipts_tokens_clock_and_faults(qbo):
    qbo.created(receipt())
    qbo.oauth(f"rt-{R1}-0")
    qbo.advance(10_000)
    qbo.faults(fail_next=5)
    qbo.control("reset")
    assert qbo.truth()["receipts"] == [] and qbo.truth()["refreshes"] == 0
    assert qbo.session.get(f"{qbo.url}/_fake/clock", timeout=10).json()["offset"] == 0
    assert qbo.query("select * from SalesReceipt").status_code == 200  # at-…-0 again, no fault
    assert qbo.created(receipt())["Id"] == "1"
    assert {R1, R2, R3} <= set(qbo.session.get(f"{qbo.url}/_fake/truth", timeout=10).json()["realms"])


# ---------------------------------------------------------------------------------- both fakes on one port
def test_epos_and_qbo_share_one_port_company_by_realm():
    with running(FakeSource(server=("-m", "app.fakes.epos_qbo")), "--companies", 2, "--days", 2,
                 "--end-date", "2026-03-28", "--threads", 16) as url:
        sales = requests.get(f"{url}/epos/api/v4/Transaction/GetByDate", auth=("key-co02", "secret-co02"),
                             params={"startDate": "2026-03-27T03:00:00", "endDate": "2026-03-29T03:00:00"},
                             timeout=10)
        assert sales.status_code == 200 and sales.json()
        assert requests.get(f"{url}/epos/_fake/truth", timeout=10).json()["companies"].keys() == {"co01", "co02"}
        tokens = requests.post(f"{url}/qbo/oauth2/v1/tokens/bearer", auth=CLIENT, timeout=10,
                               data={"grant_type": "refresh_token", "refresh_token": f"rt-{R2}-0"}).json()
        created = requests.post(f"{url}/qbo/v3/company/{R2}/salesreceipt", json=receipt(), timeout=10,
                                headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert created.status_code == 200
        realms = requests.get(f"{url}/qbo/_fake/truth", timeout=10).json()["realms"]
        assert set(realms) == {R1, R2} and len(realms[R2]["receipts"]) == 1
        assert requests.get(f"{url}/elsewhere", timeout=10).status_code == 404
