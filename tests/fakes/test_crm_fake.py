"""The fake CRM (app.fakes.crm), run as a real subprocess and reached only over HTTP, as the connector reaches it."""
import threading
import time

import pytest
import requests

from app.connectors.base import FakeSource
from app.fakes.launch import running

LOGIN = {"mobile": "09121234567", "password": "s3cret", "customerId": "42"}
CONTACT = {"firstName": "Sara", "lastName": "Ahmadi", "mobile": "09121112233", "nationalCode": "0012345678",
           "gender": 2, "organizationId": 201, "email": "sara@example.com", "birthDate": "1990-05-01",
           "customFields": {"membership": "gold"}, "externalId": "member:1"}


@pytest.fixture(scope="module")
def crm_url():
    with running(FakeSource(server=("-m", "app.fakes.crm")), "--mobile", LOGIN["mobile"], "--password",
                 LOGIN["password"], "--customer-id", LOGIN["customerId"]) as url:
        yield url


class Crm:
    """The fake over HTTP: /api/* calls with a bearer token, and the /__fake/ controls."""

    def __init__(self, url):
        self.url = url
        self.session = requests.Session()
        self.token = self.login().json()["access_token"]

    def login(self, **changes):
        return requests.post(f"{self.url}/api/auth/login", json={**LOGIN, **changes}, timeout=10)

    def call(self, method, path, token=None, **kwargs):
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return self.session.request(method, f"{self.url}/api{path}", headers=headers, timeout=10, **kwargs)

    def get(self, path, **params):
        return self.call("GET", path, params=params)

    def post(self, path, body=None):
        return self.call("POST", path, json=body if body is not None else {})

    def put(self, path, body):
        return self.call("PUT", path, json=body)

    def created(self, path, body):
        response = self.post(path, body)
        assert response.status_code == 201, response.text
        return response.json()

    def control(self, name, body=None):
        response = requests.post(f"{self.url}/__fake/{name}", json=body or {}, timeout=10)
        response.raise_for_status()
        return response.json()

    def faults(self, **faults):
        return self.control("faults", faults)

    def truth(self):
        return requests.get(f"{self.url}/__fake/truth", timeout=10).json()

    def entities(self, entity):
        return requests.get(f"{self.url}/__fake/entities/{entity}", timeout=10).json()


@pytest.fixture
def crm(crm_url):
    requests.post(f"{crm_url}/__fake/reset", timeout=10).raise_for_status()
    api = Crm(crm_url)
    yield api
    api.session.close()


def contact(**changes):
    return {**CONTACT, **changes}


def catalogue(crm):
    """A contact, a category and two products (ids 1 and 2, priced 100 and 250)."""
    crm.created("/contacts", CONTACT)
    category = crm.created("/product-categories", {"title": "Memberships", "externalId": "category:Memberships"})
    for n, price in ((1, 100), (2, 250)):
        crm.created("/products", {"title": f"Plan {n}", "code": f"P{n}", "categoryId": category["id"],
                                  "price": price, "type": 2, "externalId": f"product:{n}"})


def invoice(**changes):
    return {"number": "INV-1", "contactId": 1, "date": "2024-03-01", "discount": 20, "tax": 9,
            "items": [{"productId": 1, "quantity": 2, "unitPrice": 100, "discount": 10},
                      {"productId": 2, "quantity": 1, "unitPrice": 250, "discount": 0}],
            "description": "March", "externalId": "invoice:1", **changes}


def assert_invalid(response, field, text=None):
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"] == "Validation failed" and field in body["errors"], body
    if text:
        assert any(text in t for t in body["errors"][field]), body


# ---------------------------------------------------------------------------------- auth
def test_login_answers_a_bearer_token_for_the_right_credentials_only(crm):
    first, second = crm.login().json(), crm.login().json()
    assert first["token_type"] == "bearer" and first["expires_in"] == 3600
    assert first["access_token"] != second["access_token"] and int(first["access_token"], 16) >= 0
    for wrong in ({"password": "demo"}, {"mobile": "09120000000"}, {"customerId": "1001"}, {"customerId": None}):
        response = crm.login(**wrong)
        assert response.status_code == 401
        assert response.json() == {"message": "Invalid mobile, password or customer id"}


def test_api_calls_need_an_issued_unexpired_token(crm):
    assert requests.get(f"{crm.url}/api/genders", timeout=10).status_code == 401
    response = crm.call("GET", "/genders", token="deadbeef")
    assert response.status_code == 401 and response.json() == {"message": "Token expired or invalid"}
    assert crm.get("/genders").status_code == 200
    crm.control("expire_tokens")
    assert crm.get("/genders").status_code == 401
    assert crm.call("GET", "/genders", token=crm.login().json()["access_token"]).status_code == 200


# ---------------------------------------------------------------------------------- contacts
def test_a_contact_is_created_found_and_updated(crm):
    created = crm.created("/contacts", CONTACT)
    assert created == {**CONTACT, "id": 1}
    for name in ("mobile", "nationalCode", "externalId"):
        assert crm.get("/contacts", **{name: CONTACT[name]}).json() == [created]
        assert crm.get("/contacts", **{name: "09129999999"}).json() == []
    response = crm.get("/contacts")
    assert response.status_code == 400 and response.json()["message"]
    body = {k: v for k, v in CONTACT.items() if k != "externalId"}
    updated = crm.put("/contacts/1", {**body, "firstName": "Zahra", "mobile": None})
    assert updated.status_code == 200
    assert updated.json() == {**CONTACT, "id": 1, "firstName": "Zahra", "mobile": None}
    assert crm.get("/contacts", externalId="member:1").json()[0]["firstName"] == "Zahra"
    assert crm.created("/contacts", contact(externalId="member:2"))["id"] == 2  # the mobile is free again
    missing = crm.put("/contacts/99", CONTACT)
    assert missing.status_code == 404 and "99" in missing.json()["message"]


@pytest.mark.parametrize("field, value", [
    ("lastName", ""), ("lastName", None), ("mobile", "9121112233"), ("mobile", "0912111223x"),
    ("mobile", "۰۹۱۲۱۱۱۲۲۳۳"), ("mobile", 9121112233), ("nationalCode", "12345"), ("gender", 3), ("gender", True),
    ("organizationId", 999), ("externalId", 5),
])
def test_an_invalid_contact_is_refused_with_the_field_named(crm, field, value):
    assert_invalid(crm.post("/contacts", contact(**{field: value})), field)
    crm.created("/contacts", CONTACT)
    assert_invalid(crm.put("/contacts/1", contact(**{field: value})), field)
    assert crm.entities("contacts") == [{**CONTACT, "id": 1}]


def test_optional_contact_fields_may_be_null(crm):
    nulls = dict.fromkeys(("mobile", "nationalCode", "gender", "organizationId"))
    assert crm.created("/contacts", {"lastName": "Karimi", **nulls})["mobile"] is None
    assert crm.created("/contacts", {"lastName": "Rahimi"})["id"] == 2


def test_a_second_contact_with_the_same_mobile_is_refused(crm):
    crm.created("/contacts", CONTACT)
    response = crm.post("/contacts", contact(externalId="member:2", nationalCode=None))
    assert_invalid(response, "mobile")
    assert response.json()["errors"]["mobile"] == ["A contact with mobile 09121112233 already exists (id 1)"]
    assert crm.truth()["counts"]["contacts"] == 1


# ---------------------------------------------------------------------------------- products
def test_a_product_needs_an_existing_category(crm):
    product = {"title": "Plan", "code": "P1", "categoryId": 1, "price": 100, "type": 1, "externalId": "product:1"}
    assert_invalid(crm.post("/products", product), "categoryId", "No product category with id 1")
    assert_invalid(crm.post("/product-categories", {"title": ""}), "title")
    category = crm.created("/product-categories", {"title": "Memberships"})
    assert_invalid(crm.post("/product-categories", {"title": "Memberships"}), "title", "already exists")
    assert crm.get("/product-categories", title="Memberships").json() == [category]
    assert crm.get("/product-categories", title="memberships").json() == []
    created = crm.created("/products", product)
    assert crm.get("/products", code="P1").json() == [created] == crm.get("/products", externalId="product:1").json()
    for field, value in (("title", ""), ("price", -1), ("price", "100"), ("type", 3)):
        assert_invalid(crm.post("/products", {**product, field: value}), field)
    updated = crm.put("/products/1", {**product, "price": 120})
    assert updated.status_code == 200 and updated.json()["price"] == 120
    assert crm.put("/products/2", product).status_code == 404


# ---------------------------------------------------------------------------------- invoices
def test_an_invoice_is_totalled_and_confirmed_idempotently(crm):
    catalogue(crm)
    created = crm.created("/invoices", invoice())
    # (2×100 − 10) + (1×250 − 0) − 20 + 9
    assert created == {**invoice(), "id": 1, "status": "draft", "total": 429}
    assert crm.get("/invoices", number="INV-1").json() == [created]
    for _ in range(2):
        confirmed = crm.post("/invoices/1/confirm")
        assert confirmed.status_code == 200 and confirmed.json() == {**created, "status": "confirmed"}
    assert crm.post("/invoices/9/confirm").status_code == 404
    updated = crm.put("/invoices/1", invoice(tax=0, status="draft"))
    assert updated.status_code == 200 and updated.json()["status"] == "confirmed" and updated.json()["total"] == 420
    assert crm.get("/invoices", externalId="invoice:1").json() == [updated.json()]


def test_an_invalid_invoice_is_refused_naming_what_is_missing(crm):
    catalogue(crm)
    items = [{"productId": 98, "quantity": 1, "unitPrice": 5}, {"productId": 1, "quantity": 1, "unitPrice": 5},
             {"productId": 99, "quantity": 1, "unitPrice": 5}]
    assert_invalid(crm.post("/invoices", invoice(items=items)), "items", "Unknown product ids: 98, 99")
    assert_invalid(crm.post("/invoices", invoice(items=[])), "items", "At least one item")
    assert_invalid(crm.post("/invoices", invoice(items=[{"productId": 1, "quantity": 0, "unitPrice": 5}])),
                   "items", "quantity")
    assert_invalid(crm.post("/invoices", invoice(contactId=7)), "contactId", "No contact with id 7")
    assert crm.truth()["counts"]["invoices"] == 0


# ---------------------------------------------------------------------------------- incomes and deals
def test_an_operating_income_needs_a_known_bank_account_and_a_positive_amount(crm):
    crm.created("/contacts", CONTACT)
    income = {"contactId": 1, "amount": 500, "date": "2024-03-02", "bankAccountId": 102, "description": "Cash",
              "externalId": "receipt:1"}
    assert_invalid(crm.post("/operating-incomes", {**income, "bankAccountId": 999}), "bankAccountId")
    assert_invalid(crm.post("/operating-incomes", {**income, "amount": 0}), "amount")
    assert_invalid(crm.post("/operating-incomes", {**income, "contactId": 5}), "contactId")
    created = crm.created("/operating-incomes", income)
    assert crm.get("/operating-incomes", externalId="receipt:1").json() == [created]
    assert crm.put("/operating-incomes/1", {**income, "amount": 600}).json()["amount"] == 600
    assert_invalid(crm.put("/operating-incomes/1", {"bankAccountId": 1}), "bankAccountId")


def test_a_deal_needs_a_level_of_its_own_funnel(crm):
    catalogue(crm)
    crm.created("/invoices", invoice())
    deal = {"title": "Invoice INV-1", "contactId": 1, "funnelId": 1, "funnelLevelId": 13, "invoiceId": 1,
            "amount": 429, "externalId": "invoice:1:deal"}
    assert_invalid(crm.post("/deals", {**deal, "funnelLevelId": 21}), "funnelLevelId", "level of funnel 1")
    assert_invalid(crm.post("/deals", {**deal, "funnelId": 9}), "funnelId")
    created = crm.created("/deals", deal)
    assert crm.get("/deals", invoiceId=1).json() == [created] == crm.get("/deals", externalId="invoice:1:deal").json()
    assert crm.get("/deals", invoiceId=2).json() == []


def test_the_lookups_are_fixed(crm):
    assert crm.get("/genders").json() == [{"id": 1, "title": "Male"}, {"id": 2, "title": "Female"}]
    assert [f["id"] for f in crm.get("/funnels").json()] == [1, 2]
    assert [lv["id"] for lv in crm.get("/funnels").json()[0]["levels"]] == [11, 12, 13]
    assert [a["id"] for a in crm.get("/bank-accounts").json()] == [101, 102, 103, 104]
    assert crm.get("/organizations").json()[1] == {"id": 202, "title": "Branch North"}


def test_every_error_is_json_with_a_message(crm):
    for response in (crm.get("/nothing"), crm.put("/deals/1", {}), crm.call("POST", "/contacts", data="not json"),
                     requests.get(f"{crm.url}/__fake/entities/nothing", timeout=10)):
        assert response.status_code in (400, 404, 405) and response.json()["message"], response.text


# ---------------------------------------------------------------------------------- faults
def test_latency_delays_each_request_but_requests_overlap(crm):
    crm.faults(latency_ms=200)
    statuses = []

    def call():  # a connection of its own per thread, so the requests can overlap
        response = requests.get(f"{crm.url}/api/genders", headers={"Authorization": f"Bearer {crm.token}"}, timeout=10)
        statuses.append(response.status_code)
    threads = [threading.Thread(target=call) for _ in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert statuses == [200] * 8
    assert 0.2 <= elapsed < 0.8, elapsed
    crm.faults()
    started = time.monotonic()
    crm.get("/genders")
    assert time.monotonic() - started < 0.2


def test_throttling_answers_429_with_retry_after_every_nth_request(crm):
    crm.faults(throttle_every=3)
    responses = [crm.get("/genders") for _ in range(6)]
    assert [r.status_code for r in responses] == [200, 200, 429, 200, 200, 429]
    assert responses[2].headers["Retry-After"] == "1" and responses[2].json() == {"message": "Too many requests"}
    assert crm.truth()["requests"]["throttled"] == 2
    crm.faults(throttle_every=2, retry_after=0.05)  # the count restarts
    assert crm.get("/genders").status_code == 200
    assert crm.get("/genders").headers["Retry-After"] == "0.05"


def test_failing_writes_answer_500_from_the_kth_and_heal_after_fail_count(crm):
    crm.faults(fail_from=2, fail_count=2)
    statuses = [crm.post("/contacts", contact(mobile=f"0912000000{n}", externalId=f"m{n}")).status_code
                for n in range(4)]
    assert statuses == [201, 500, 500, 201]
    assert crm.truth()["counts"]["contacts"] == 2
    crm.faults(fail_from=1)
    failed = [crm.put("/contacts/1", CONTACT), crm.post("/invoices/1/confirm"), crm.post("/contacts", CONTACT)]
    assert [r.status_code for r in failed] == [500, 500, 500]
    assert failed[0].json() == {"message": "Internal server error"}
    assert crm.get("/contacts", externalId="m0").status_code == 200  # reads still work


def test_rejected_values_answer_422_from_the_test(crm):
    catalogue(crm)
    crm.faults(reject={"contacts": ["09125550000"], "invoices": ["INV-7"]})
    response = crm.post("/contacts", contact(mobile="09125550000", externalId="member:5"))
    assert response.status_code == 422
    rejected = {"fake": ["Rejected by the test: 09125550000"]}
    assert response.json() == {"message": "Validation failed", "errors": rejected}
    assert_invalid(crm.post("/invoices", invoice(number="INV-7")), "fake", "INV-7")
    assert crm.created("/invoices", invoice(number="INV-8"))["number"] == "INV-8"
    crm.faults(reject={"contacts": ["member:1"]})
    assert_invalid(crm.put("/contacts/1", {"firstName": "Zahra"}), "fake", "member:1")  # its stored externalId


def test_a_dropped_create_is_stored_but_never_answered(crm):
    crm.faults(drop_after_create=["member:1"])
    with pytest.raises(requests.ConnectionError):
        crm.post("/contacts", CONTACT)
    assert crm.entities("contacts") == [{**CONTACT, "id": 1}]
    assert crm.truth()["creates"]["contacts"] == 1
    assert crm.get("/contacts", externalId="member:1").json()[0]["id"] == 1


# ---------------------------------------------------------------------------------- truth and reset
def test_the_truth_counts_creates_requests_and_duplicates(crm):
    catalogue(crm)
    crm.created("/invoices", invoice())
    crm.created("/invoices", invoice(externalId="invoice:again"))  # the same number: the fake lets it in
    crm.created("/contacts", contact(mobile="09127770000", nationalCode=None))  # the same externalId
    crm.put("/products/1", {"price": 110})
    crm.get("/invoices", number="INV-1")
    truth = crm.truth()
    assert truth["counts"] == {"contacts": 2, "product-categories": 1, "products": 2, "invoices": 2,
                               "operating-incomes": 0, "deals": 0}
    assert truth["creates"] == truth["counts"]
    assert truth["duplicates"] == {"contacts": ["member:1"], "product-categories": [], "products": [],
                                   "invoices": ["INV-1"], "operating-incomes": [], "deals": []}
    assert truth["requests"] == {"login": 1, "get": 1, "post": 7, "put": 1, "throttled": 0}


def test_reset_empties_everything_but_the_lookups(crm):
    catalogue(crm)
    crm.faults(throttle_every=1)
    crm.control("reset")
    assert crm.get("/genders").status_code == 401  # tokens and faults are gone
    crm.token = crm.login().json()["access_token"]
    assert crm.get("/genders").status_code == 200
    assert crm.entities("products") == [] and crm.truth()["creates"]["contacts"] == 0
    assert crm.created("/contacts", CONTACT)["id"] == 1
