"""The fake EPOS Now (app.fakes.epos), run as a real subprocess and reached only over HTTP, as the connector
reaches it."""
import datetime as dt
import time
from collections import Counter

import pytest
import requests

from app.connectors.base import FakeSource
from app.fakes.launch import running

EPOS = FakeSource(server=("-m", "app.fakes.epos"))
SEEDING = ("--companies", 3, "--days", 14, "--per-day", 40, "--seed", 1, "--end-date", "2026-03-28")
FIRST_DAY, LAST_DAY = dt.date(2026, 3, 15), dt.date(2026, 3, 28)
GET_BY_DATE = "/api/v4/Transaction/GetByDate"
DENIED = {"Message": "Authorization has been denied for this request."}


@pytest.fixture(scope="module")
def epos_url():
    with running(EPOS, *SEEDING) as url:
        yield url


class Epos:
    """The fake over HTTP: GetByDate as a company (HTTP Basic), and the /_fake/ controls."""

    def __init__(self, url):
        self.url = url
        self.session = requests.Session()

    def get(self, params, company="co01", auth=None):
        auth = auth or (f"key-{company}", f"secret-{company}")
        return self.session.get(self.url + GET_BY_DATE, params=params, auth=auth, timeout=10)

    def page(self, start, end, page=1, company="co01"):
        response = self.get({"startDate": start, "endDate": end, "page": page}, company)
        assert response.status_code == 200, response.text
        return response.json()

    def all_pages(self, start, end, company="co01"):
        """Every page until the first empty one; the pages' lengths too."""
        rows, sizes = [], []
        while True:
            page = self.page(start, end, len(sizes) + 1, company)
            sizes.append(len(page))
            if not page:
                return rows, sizes
            rows += page

    def control(self, name, body=None):
        response = self.session.post(f"{self.url}/_fake/{name}", json=body or {}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def faults(self, **faults):
        return self.control("faults", faults)

    def truth(self, **params):
        return self.session.get(f"{self.url}/_fake/truth", params=params, timeout=10).json()


@pytest.fixture
def epos(epos_url):
    requests.post(f"{epos_url}/_fake/reset", timeout=10).raise_for_status()
    api = Epos(epos_url)
    yield api
    api.session.close()


def trading_day(day):
    """The local window [D 03:00, D+1 03:00) of trading day D."""
    return f"{day}T03:00:00", f"{day + dt.timedelta(days=1)}T03:00:00"


WHOLE = (trading_day(FIRST_DAY)[0], trading_day(LAST_DAY)[1])


def cents(amount):
    return round(amount * 100)


# ---------------------------------------------------------------------------------- auth
def test_every_api_call_needs_the_companys_key_and_secret(epos):
    params = {"startDate": WHOLE[0], "endDate": WHOLE[1]}
    anonymous = requests.get(epos.url + GET_BY_DATE, params=params, timeout=10)
    assert anonymous.status_code == 401 and anonymous.json() == DENIED
    for wrong in (("key-co01", "secret-co02"), ("key-co01", ""), ("key-co09", "secret-co09"), ("co01", "x")):
        response = epos.get(params, auth=wrong)
        assert response.status_code == 401 and response.json() == DENIED, wrong
    bearer = requests.get(epos.url + GET_BY_DATE, params=params, headers={"Authorization": "Bearer key-co01"},
                          timeout=10)
    assert bearer.status_code == 401
    assert epos.get(params).status_code == 200
    assert epos.truth(company="co01")["requests"] == 1  # refused calls are no company's


def test_the_credentials_select_the_company(epos):
    first, second = epos.page(*WHOLE, company="co01"), epos.page(*WHOLE, company="co02")
    assert first and second and first != second
    assert all(10_000_000 < t["Id"] < 20_000_000 for t in first)
    assert all(20_000_000 < t["Id"] < 30_000_000 for t in second)
    assert {t["DeviceId"] // 100 for t in second} == {2}


# ---------------------------------------------------------------------------------- GetByDate
def test_pages_hold_200_ordered_by_datetime_and_id_and_end_with_an_empty_page(epos):
    rows, sizes = epos.all_pages(*WHOLE)
    assert sizes[:-2] == [200] * (len(sizes) - 2) and 0 < sizes[-2] <= 200 and sizes[-1] == 0
    assert len(sizes) >= 3  # 14 days of ~40 is more than two pages
    keys = [(t["DateTime"], t["Id"]) for t in rows]
    assert keys == sorted(keys) and len({t["Id"] for t in rows}) == len(rows)
    assert epos.page(*WHOLE, page=len(sizes) + 5) == []
    truth = epos.truth(company="co01", startDate=WHOLE[0], endDate=WHOLE[1])
    assert truth["count"] + truth["voids"] == len(rows)
    assert epos.truth(company="co01")["count"] + epos.truth(company="co01")["voids"] == len(rows)


def test_a_transaction_adds_up_exactly(epos):
    rows, _ = epos.all_pages(*WHOLE)
    for txn in rows:
        assert set(txn) == {"Id", "DateTime", "StatusId", "TransactionType", "TotalAmount", "DeviceId", "StaffId",
                            "TransactionItems", "Tenders"}
        assert txn["StatusId"] in (1, 2) and txn["TransactionType"] in ("Sale", "Refund")
        assert txn["TotalAmount"] > 0 and cents(txn["TotalAmount"]) == round(txn["TotalAmount"] * 100, 6)
        items, tenders = txn["TransactionItems"], txn["Tenders"]
        assert 1 <= len(items) <= 5
        assert sum(cents(i["TotalPrice"]) for i in items) == cents(txn["TotalAmount"])
        assert all(cents(i["UnitPrice"]) * i["Quantity"] == cents(i["TotalPrice"]) for i in items)
        assert sum(cents(t["Amount"]) for t in tenders) == cents(txn["TotalAmount"])
        assert all({1: "Cash", 2: "Card", 3: "Voucher"}[t["TenderTypeId"]] == t["TenderTypeName"] for t in tenders)
        assert len(txn["DateTime"]) == 19 and dt.datetime.fromisoformat(txn["DateTime"]).tzinfo is None


def test_the_seeded_days_have_late_sales_voids_refunds_and_no_skipped_hour(epos):
    rows, _ = epos.all_pages(*WHOLE, company="co03")
    hours = Counter(dt.datetime.fromisoformat(t["DateTime"]).hour for t in rows)
    late = sum(hours[h] for h in (0, 1, 2))
    assert set(hours) <= {0, 1, 2, *range(8, 24)}
    assert 0.04 < late / len(rows) < 0.17, late
    assert 0 < sum(t["StatusId"] == 2 for t in rows) < 0.08 * len(rows)
    assert 0 < sum(t["TransactionType"] == "Refund" for t in rows) < 0.08 * len(rows)
    # London's clocks jump from 01:00 to 02:00 on 29 March 2026: a till cannot record 01:xx that night
    that_night = [t["DateTime"] for company in ("co01", "co02", "co03")
                  for t in epos.page("2026-03-29T00:00:00", "2026-03-29T03:00:00", company=company)]
    assert that_night and not [when for when in that_night if when.startswith("2026-03-29T01:")]
    for n in range(14):
        day = FIRST_DAY + dt.timedelta(days=n)
        count = len(epos.all_pages(*trading_day(day), company="co03")[0])
        assert 32 <= count <= 48, (day, count)


def test_same_seed_same_data_and_reset_restores_it(epos):
    before = epos.page(*WHOLE, page=2)
    epos.control("transactions", {"company": "co01", "transactions": [{"DateTime": WHOLE[0], "TotalAmount": 1}]})
    assert epos.page(*WHOLE, page=2) != before
    epos.control("reset")
    assert epos.page(*WHOLE, page=2) == before
    with running(EPOS, *SEEDING) as other:
        again = requests.get(other + GET_BY_DATE, params={"startDate": WHOLE[0], "endDate": WHOLE[1], "page": 2},
                             auth=("key-co01", "secret-co01"), timeout=10).json()
    assert again == before


def test_the_window_is_local_time_start_inclusive_end_exclusive(epos):
    day = dt.date(2026, 3, 20)
    added = epos.control("transactions", {"company": "co02", "transactions": [
        {"DateTime": "2026-03-20T03:00:00", "TotalAmount": 1.11},
        {"DateTime": "2026-03-21T02:59:00", "TotalAmount": 2.22},
        {"DateTime": "2026-03-21T03:00:00", "TotalAmount": 3.33}]})["ids"]
    assert len(set(added)) == 3
    inside = {t["Id"] for t in epos.all_pages(*trading_day(day), company="co02")[0]}
    nxt = {t["Id"] for t in epos.all_pages(*trading_day(day + dt.timedelta(days=1)), company="co02")[0]}
    assert added[0] in inside and added[1] in inside and added[2] not in inside
    assert added[2] in nxt and not inside & nxt
    late = {t["Id"] for t in epos.page("2026-03-21T00:00:00", "2026-03-21T02:59:01", company="co02")}
    assert added[1] in late and added[2] not in late


@pytest.mark.parametrize("params", [
    {"endDate": "2026-03-21T03:00:00"},
    {"startDate": "2026-03-20T03:00:00"},
    {"startDate": "yesterday", "endDate": "2026-03-21T03:00:00"},
    {"startDate": "2026-03-20T03:00:00", "endDate": "2026-13-01T00:00:00"},
    {"startDate": "2026-03-20T03:00:00", "endDate": "2026-03-20T03:00:00"},
    {"startDate": "2026-03-21T03:00:00", "endDate": "2026-03-20T03:00:00"},
    {"startDate": "2026-03-20T03:00:00+01:00", "endDate": "2026-03-21T03:00:00"},
    {"startDate": "2026-03-20T03:00:00", "endDate": "2026-03-21T03:00:00", "page": 0},
    {"startDate": "2026-03-20T03:00:00", "endDate": "2026-03-21T03:00:00", "page": "two"},
])
def test_bad_arguments_answer_400_with_a_message(epos, params):
    response = epos.get(params)
    assert response.status_code == 400 and isinstance(response.json()["Message"], str) and response.json()["Message"]


def test_unknown_routes_answer_json(epos):
    response = epos.session.get(epos.url + "/api/v4/Nothing", auth=("key-co01", "secret-co01"), timeout=10)
    assert response.status_code == 404 and "No HTTP resource" in response.json()["Message"]


# ---------------------------------------------------------------------------------- truth and controls
def test_the_truth_is_what_the_listed_transactions_add_up_to(epos):
    for company in ("co01", "co02", "co03"):
        for window in (WHOLE, trading_day(dt.date(2026, 3, 22))):
            rows, _ = epos.all_pages(*window, company=company)
            live = [t for t in rows if t["StatusId"] == 1]
            sales = sum(cents(t["TotalAmount"]) for t in live if t["TransactionType"] == "Sale")
            refunds = sum(cents(t["TotalAmount"]) for t in live if t["TransactionType"] == "Refund")
            truth = epos.truth(company=company, startDate=window[0], endDate=window[1])
            assert truth["count"] == len(live) and truth["voids"] == len(rows) - len(live)
            assert (cents(truth["sales"]), cents(truth["refunds"]), cents(truth["net"])) == \
                (sales, refunds, sales - refunds)
    assert set(epos.truth()["companies"]) == {"co01", "co02", "co03"}


def test_added_transactions_fit_their_amount_and_move_the_truth(epos):
    window = trading_day(dt.date(2026, 3, 25))
    before = epos.truth(company="co01", startDate=window[0], endDate=window[1])
    ids = epos.control("transactions", {"company": "co01", "transactions": [
        {"DateTime": "2026-03-25T12:00:00", "TotalAmount": 10.0, "TransactionType": "Sale", "StatusId": 1},
        {"DateTime": "2026-03-25T12:00:00", "TotalAmount": 4.56, "TransactionType": "Refund", "StatusId": 1},
        {"DateTime": "2026-03-26T01:30:00", "TotalAmount": 7.89, "TransactionType": "Sale", "StatusId": 2}]})["ids"]
    after = epos.truth(company="co01", startDate=window[0], endDate=window[1])
    assert after["count"] == before["count"] + 2 and after["voids"] == before["voids"] + 1
    assert cents(after["sales"]) - cents(before["sales"]) == 1000
    assert cents(after["refunds"]) - cents(before["refunds"]) == 456
    listed = {t["Id"]: t for t in epos.all_pages(*window)[0]}
    for txn_id, amount in zip(ids, (1000, 456, 789)):
        txn = listed[txn_id]
        assert cents(txn["TotalAmount"]) == amount
        assert sum(cents(i["TotalPrice"]) for i in txn["TransactionItems"]) == amount
        assert sum(cents(t["Amount"]) for t in txn["Tenders"]) == amount
    bad = epos.session.post(f"{epos.url}/_fake/transactions", timeout=10, json={
        "company": "co01", "transactions": [{"DateTime": "2026-03-25T12:00:00", "TotalAmount": -1}]})
    assert bad.status_code == 400
    unknown = epos.session.post(f"{epos.url}/_fake/transactions", timeout=10, json={
        "company": "co77", "transactions": [{"DateTime": "2026-03-25T12:00:00", "TotalAmount": 1}]})
    assert unknown.status_code == 404
    epos.control("reset")
    assert epos.truth(company="co01", startDate=window[0], endDate=window[1]) == {**before, "requests": 0}


def test_companies_can_be_added_and_are_seeded_like_the_others(epos):
    assert epos.get({"startDate": WHOLE[0], "endDate": WHOLE[1]}, company="co05").status_code == 401
    listing = epos.control("companies", {"count": 5})["companies"]
    assert [c["company"] for c in listing] == ["co01", "co02", "co03", "co04", "co05"]
    assert listing[4] == {"company": "co05", "name": "Café Nord 05", "api_key": "key-co05",
                          "api_secret": "secret-co05", "timezone": "Europe/London"}
    rows, _ = epos.all_pages(*WHOLE, company="co05")
    assert 14 * 32 <= len(rows) <= 14 * 48 and all(50_000_000 < t["Id"] < 60_000_000 for t in rows)
    assert epos.truth(company="co05")["count"] > 0


# ---------------------------------------------------------------------------------- faults
def test_fail_next_answers_the_status_then_heals(epos):
    params = {"startDate": WHOLE[0], "endDate": WHOLE[1]}
    epos.faults(fail_next=2, status=500)
    statuses = [epos.get(params) for _ in range(3)]
    assert [r.status_code for r in statuses] == [500, 500, 200]
    assert statuses[0].json() == {"Message": "Service unavailable"}
    epos.faults(fail_next=1)
    assert epos.get(params).status_code == 503


def test_malformed_next_answers_200_with_truncated_json(epos):
    params = {"startDate": WHOLE[0], "endDate": WHOLE[1]}
    epos.faults(malformed_next=1)
    broken = epos.get(params)
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    assert len(epos.get(params).json()) == 200


def test_faults_limited_to_a_company_leave_the_others_alone(epos):
    params = {"startDate": WHOLE[0], "endDate": WHOLE[1]}
    epos.faults(fail_next=1, company="co02")
    assert epos.get(params, company="co01").status_code == 200
    assert epos.get(params, company="co02").status_code == 503
    assert epos.get(params, company="co02").status_code == 200


def test_latency_delays_every_api_call_until_faults_are_replaced(epos):
    params = {"startDate": WHOLE[0], "endDate": WHOLE[0][:11] + "04:00:00"}
    epos.faults(latency_ms=300)
    started = time.monotonic()
    assert epos.get(params).status_code == 200
    assert time.monotonic() - started >= 0.3
    epos.faults()
    started = time.monotonic()
    epos.get(params)
    assert time.monotonic() - started < 0.25
