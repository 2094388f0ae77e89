"""Credits matched to UISP customers from the cache, then posted to UISP once each (fake's truth)."""
from decimal import Decimal

from sqlalchemy import select

from app.connectors.banking.identity import provider_payment_id
from app.connectors.banking.matching import Directory
from app.connectors.banking.statements import Line, write_camt053
from app.extensions import db
from tests.connectors.banking.conftest import day, import_file, lines, money, open_invoices
from tests.connectors.banking.test_import import statement
from tests.runs.helpers import run_job


def remitted(n, cents, text, name="", ref=None):
    return Line(booking_date=day(n % 5), value_date=day(n % 5), amount=money(cents), currency="ZAR",
                bank_reference=ref or f"MATCH{n:05d}", name=name, remittance=text)


def _unique_amount_and_name(app):
    """An open amount only one customer owes, and a customer name no one else has (from the cache)."""
    with app.app_context():
        directory = Directory()
        names = list(directory.names.values())
        amount, clients = next((a, c) for a, c in sorted(directory.by_amount.items()) if len(c) == 1 and a > 100)
        unique = next((cid, name) for cid, name in sorted(directory.names.items()) if names.count(name) == 1)
        shared = next((a, c) for a, c in sorted(directory.by_amount.items()) if len(c) > 2)
        return (amount, next(iter(clients))), unique, shared


def test_credits_match_by_invoice_number_customer_number_and_amount_and_names_only_suggest(app, bank):
    by_invoice, by_customer, *_ = open_invoices(bank, 2)
    ident = bank.get(f"/clients/{by_customer['clientId']}")["userIdent"]
    (amount, amount_client), (named_client, name), (shared_amount, shared_clients) = _unique_amount_and_name(app)
    entries = [remitted(1, by_invoice["cents"], f"Invoice {by_invoice['number']} thanks"),
               remitted(2, by_customer["cents"], f"Internet {ident}"),
               remitted(3, amount, "Monthly"),
               remitted(4, shared_amount, "Monthly"),
               remitted(5, 123456, "no reference at all", name=name),
               remitted(6, by_invoice["cents"] + 1000, f"{by_invoice['number']}")]
    run = import_file(app, write_camt053([statement("camt053", entries)]), "credits.xml")
    assert run.status == "succeeded", run.reason
    got = {line.bank_reference: line for line in lines(app)}

    first = got["MATCH00001"]
    assert (first.match_status, first.match_rule, first.client_id) == ("matched", "invoice_number",
                                                                       by_invoice["clientId"])
    assert [i["id"] for i in first.invoices] == [by_invoice["id"]]
    second = got["MATCH00002"]
    assert (second.match_status, second.match_rule, second.client_id) == ("matched", "customer_number",
                                                                          by_customer["clientId"])
    third = got["MATCH00003"]
    assert (third.match_status, third.match_rule, third.client_id) == ("matched", "amount", amount_client)
    fourth = got["MATCH00004"]
    assert (fourth.match_status, fourth.match_rule, fourth.client_id) == ("review", "amount", None)
    assert f"{len(shared_clients)} customers" in fourth.match_note
    fifth = got["MATCH00005"]
    assert (fifth.match_status, fifth.client_id, fifth.suggested_client_id) == ("unmatched", None, named_client)
    assert fifth.suggestion_score >= 85
    partial = got["MATCH00006"]
    assert partial.match_status == "review" and "pays" in partial.match_note


def _import_matched(app, bank, count):
    invoices = open_invoices(bank, count)
    entries = [remitted(n, inv["cents"], f"INV {inv['number']}") for n, inv in enumerate(invoices, 1)]
    run = import_file(app, write_camt053([statement("camt053", sorted(entries, key=lambda e: e.booking_date))]),
                      "matched.xml")
    assert run.status == "succeeded", run.reason
    assert {line.match_status for line in lines(app)} == {"matched"}
    return invoices


def test_matched_credits_are_posted_once_with_their_identity_and_a_rerun_posts_nothing(app, bank):
    invoices = _import_matched(app, bank, 8)
    run = run_job(app, "banking.post_payments", timeout=120)
    assert run.status == "succeeded", run.reason
    expected = {provider_payment_id(line.identity) for line in lines(app)}
    assert bank.by_provider_id() == dict.fromkeys(expected, 1)
    paid = {p["invoiceIds"][0]: p["amountCents"] for p in bank.ours()}
    assert paid == {inv["id"]: inv["cents"] for inv in invoices}
    assert all(bank.get(f"/invoices/{inv['id']}")["amountToPay"] == 0 for inv in invoices)

    again = run_job(app, "banking.post_payments", timeout=120)
    assert again.status == "succeeded" and again.counters.get("pushed", 0) == 0
    assert len(bank.ours()) == 8


def test_an_answer_lost_after_uisp_accepted_is_found_by_its_provider_id_not_posted_again(app, bank):
    _import_matched(app, bank, 5)
    bank.faults(payments_lose_answer_at=3)
    run = run_job(app, "banking.post_payments", timeout=120)
    assert run.status == "succeeded", run.reason
    assert sorted(bank.by_provider_id().values()) == [1] * 5
    assert bank.truth()["posts"] == 5


def test_a_refused_payment_fails_alone_is_listed_as_failed_and_a_retry_posts_it(app, bank, admin):
    _import_matched(app, bank, 4)
    bank.faults(payments_refuse_at=2)
    run = run_job(app, "banking.post_payments", timeout=120)
    assert run.status == "succeeded", run.reason
    assert len(bank.ours()) == 3
    failed = admin.client.get("/banking/failed").get_data(as_text=True)
    assert failed.count('data-posted="failed"') == 1 and "refused" in failed
    exported = admin.client.get("/banking/failed?format=csv").get_data(as_text=True).strip().splitlines()
    assert len(exported) == 2 and ",failed," in exported[1]

    bank.faults()
    assert admin.post("/banking/failed/retry").status_code == 303
    assert run_job(app, "banking.post_payments", timeout=120).status == "succeeded"
    assert sorted(bank.by_provider_id().values()) == [1] * 4
    history = admin.client.get("/banking/history?format=csv").get_data(as_text=True).strip().splitlines()
    assert len(history) == 5


def test_an_operator_assigns_an_unmatched_credit_by_hand_and_it_is_posted_to_that_customer(app, bank, admin):
    (invoice,) = open_invoices(bank, 1)
    run = import_file(app, write_camt053([statement("camt053", [remitted(1, invoice["cents"] + 7, "cash deposit",
                                                                        ref="HAND1")])]), "hand.xml")
    assert run.status == "succeeded"
    (line,) = lines(app)
    assert line.match_status in ("unmatched", "review")
    response = admin.post(f"/banking/lines/{line.id}/assign", data={"customer": str(invoice["clientId"]),
                                                                   "invoices": invoice["number"]})
    assert response.status_code == 303
    (line,) = lines(app)
    assert (line.match_status, line.match_rule, line.client_id, line.matched_by) == (
        "matched", "manual", invoice["clientId"], "alice")
    assert run_job(app, "banking.match").status == "succeeded"
    assert lines(app)[0].match_rule == "manual"  # a later automatic match keeps the operator's
    assert run_job(app, "banking.post_payments", timeout=120).status == "succeeded"
    (payment,) = bank.ours()
    assert payment["clientId"] == invoice["clientId"] and payment["amountCents"] == invoice["cents"] + 7
    refused = admin.post(f"/banking/lines/{line.id}/assign", data={"customer": "999999"})
    assert refused.status_code in (303, 400)
    assert lines(app)[0].client_id == invoice["clientId"]


def test_a_viewer_sees_the_pages_but_cannot_post_or_assign(app, bank, client, auth):
    from tests.conftest import create_user
    with app.app_context():
        create_user("victor", roles=("viewer",))
    auth.login("victor")
    for page in ("/banking/", "/banking/imports", "/banking/failed", "/banking/history", "/banking/bulk/"):
        assert client.get(page).status_code == 200, page
    assert auth.post("/banking/post").status_code == 403
    assert auth.post("/banking/lines/1/assign", data={"customer": "1"}).status_code == 403
    assert "Post matched payments" not in client.get("/banking/").get_data(as_text=True)


def test_the_jobs_page_needs_post_payments_too_to_post_payments(app, bank, client, auth):
    from tests.conftest import create_user
    with app.app_context():
        create_user("olive", roles=("operator",))
    auth.login("olive")
    response = auth.post("/jobs/banking.post_payments/run")
    assert response.status_code == 403
    assert auth.post("/jobs/banking.match/run").status_code in (202, 303)


def test_scheduling_posting_needs_post_payments_too(app, bank, client, auth):
    from app.runs.models import Schedule
    from tests.conftest import create_user
    with app.app_context():
        create_user("sam", roles=("scheduler",))
    auth.login("sam")
    form = {"job_id": "banking.post_payments", "cron": "*/10 * * * *", "timezone": "UTC", "name": "post",
            "enabled": "on"}
    refused = auth.post("/schedules", data=form)
    assert refused.status_code == 403
    assert "post_payments" in refused.get_data(as_text=True)
    assert auth.post("/schedules", data={**form, "job_id": "banking.match", "name": "match"}).status_code == 302
    with app.app_context():
        assert [s.job_id for s in db.session.scalars(select(Schedule).where(Schedule.system.is_(False)))] == \
            ["banking.match"]
