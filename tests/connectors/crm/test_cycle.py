"""The CRM bridge's cycle against the fake CRM (a real HTTP server) and a real source database."""
from sqlalchemy import select

from app.connectors.crm.models import CrmDealTrigger, CrmDuplicate, CrmMapping, CrmMinimumId
from app.extensions import db
from tests.connectors.crm.helpers import CYCLE, ledger, run_cycle, status_counts
from tests.runs.helpers import run_job


def _succeeded(runs):
    assert [j for j in CYCLE if runs.get(j) is None or runs[j].status != "succeeded"] == [], \
        {j: (r.status, r.reason) for j, r in runs.items()}
    return runs


def _persons(source):
    return source.scalar("SELECT COUNT(DISTINCT personVId) FROM dbo.membership")


def test_a_cycle_sends_every_record_once_and_a_second_sends_nothing(app, crm):
    runs = _succeeded(run_cycle(app))
    truth = crm.truth()
    assert crm.no_duplicates()[0], truth["duplicates"]
    contacts = status_counts(app, "contacts")
    assert sum(contacts.values()) == _persons(crm.source)
    assert truth["counts"]["contacts"] == contacts["synced"] > 0
    store = crm.source.scalar("SELECT COUNT(*) FROM dbo.invoiceHed")
    assert sum(status_counts(app, "store_invoices").values()) == store
    invoices = crm.entities("invoices")
    assert invoices and all(i["status"] == "confirmed" for i in invoices)
    assert runs["crm.contacts"].counters["pushed"] == contacts["synced"]
    persons = _persons(crm.source)
    assert (runs["crm.contacts"].progress_done, runs["crm.contacts"].progress_total) == (persons, persons)
    assert runs["crm.contacts"].progress_message == f"contacts: {persons:,} of {persons:,}"

    again = _succeeded(run_cycle(app))
    assert crm.truth()["creates"] == truth["creates"]
    assert all(again[j].counters.get("pushed", 0) == 0 for j in CYCLE[1:])


def test_the_steps_run_one_after_another_in_the_seeds_order(app, crm):
    runs = _succeeded(run_cycle(app))
    ordered = [runs[j] for j in CYCLE]
    for before, after in zip(ordered, ordered[1:]):
        assert after.started_at >= before.finished_at and after.trigger == "dependency"


def test_duplicate_members_are_skipped_with_the_reason_and_their_invoices_go_to_the_winner(app, crm):
    _succeeded(run_cycle(app))
    with app.app_context():
        duplicates = db.session.scalars(select(CrmDuplicate)).all()
        verdicts = {d.person_id: (d.winner_id, d.reason) for d in duplicates}
    assert verdicts, "the seed has members sharing a mobile"
    rows = ledger(app, "contacts")
    for loser, (winner, reason) in verdicts.items():
        status, _target, message = rows[("contacts", str(loser))]
        assert status == "skipped" and message == reason and f"person {winner}" in reason
    winner_ids = {rows[("contacts", str(w))][1] for w, _ in verdicts.values() if rows[("contacts", str(w))][0] == "synced"}
    loser_invoices = crm.source.rows(
        f"SELECT invoiceNo FROM dbo.invoiceHed WHERE personVId IN ({','.join(map(str, verdicts))})")
    sent = {i["number"]: i for i in crm.entities("invoices")}
    moved = [sent[r["invoiceNo"]] for r in loser_invoices if r["invoiceNo"] in sent]
    assert moved and all(str(i["contactId"]) in winner_ids for i in moved)
    mobiles = [c["mobile"] for c in crm.entities("contacts") if c["mobile"]]
    assert len(mobiles) == len(set(mobiles))


def _a_person_with_invoices(source):
    return source.rows("SELECT h.personVId AS person, h.IDD AS invoice, m.mobile AS mobile FROM dbo.invoiceHed h "
                       "JOIN dbo.membership m ON m.personVId = h.personVId "
                       "WHERE m.mobile IS NOT NULL AND m.mobile LIKE '09_________' ORDER BY h.IDD")[0]


def test_an_invoice_whose_contact_failed_is_skipped_with_that_reason_then_goes_through_after_a_retry(
        app, crm, admin, client):
    target = _a_person_with_invoices(crm.source)
    crm.faults(reject={"contacts": [target["mobile"]]})
    _succeeded(run_cycle(app))
    contact = ledger(app, "contacts")[("contacts", str(target["person"]))]
    assert contact[0] == "failed" and "Rejected by the test" in contact[2]
    invoice = ledger(app, "store_invoices")[("store_invoices", str(target["invoice"]))]
    assert invoice[0] == "skipped"
    assert f"contact of person {target['person']} is not synced (failed: " in invoice[2]

    crm.faults()
    response = admin.post("/records/retry", data={"connector": "crm", "stream": "contacts", "status": "failed",
                                                   "all": "1"})
    assert response.status_code == 303
    _succeeded(run_cycle(app))
    assert ledger(app, "contacts")[("contacts", str(target["person"]))][0] == "synced"
    status, invoice_id, _ = ledger(app, "store_invoices")[("store_invoices", str(target["invoice"]))]
    assert status == "synced" and invoice_id
    assert crm.no_duplicates()[0]


def test_a_422_fails_that_record_only_and_the_inspect_page_shows_the_crms_message(app, crm, admin, client):
    service = crm.source.rows("SELECT IDD FROM dbo.service ORDER BY IDD")[4]["IDD"]
    crm.source.execute("UPDATE dbo.service SET price = -5 WHERE IDD = :s", s=service)
    runs = _succeeded(run_cycle(app))
    products = runs["crm.products"]
    assert products.status == "succeeded" and products.rows_failed == 1
    status, _t, message = ledger(app, "products")[("products", str(service))]
    assert status == "failed" and "422" in message and "price" in message
    page = client.get("/crm/").get_data(as_text=True)
    assert message.split("(")[0].strip() in page and "price" in page


def test_a_changed_member_is_updated_not_created_again_and_unchanged_ones_are_not_sent(app, crm):
    _succeeded(run_cycle(app))
    synced = [k for (s, k), v in ledger(app, "contacts").items() if v[0] == "synced"]
    person = int(synced[0])
    creates = crm.truth()["creates"]["contacts"]
    latest = crm.source.scalar("SELECT MAX(IDD) FROM dbo.membership")
    crm.source.execute("INSERT INTO dbo.membership (IDD, personVId, firstName, lastName, mobile, CodeMelli, gender, "
                       "organizationId, membershipCode, jobTitle, email, birthDate, createdAt) "
                       "SELECT :new, personVId, firstName, 'Renamed', mobile, CodeMelli, gender, organizationId, "
                       "membershipCode, jobTitle, email, birthDate, createdAt FROM dbo.membership "
                       "WHERE IDD = (SELECT MAX(IDD) FROM dbo.membership WHERE personVId = :p)", new=latest + 1, p=person)
    run = run_job(app, "crm.contacts")
    assert run.status == "succeeded" and run.counters["pushed"] == 1 and run.rows_updated == 1 and run.rows_inserted == 0
    assert crm.truth()["creates"]["contacts"] == creates
    target = ledger(app, "contacts")[("contacts", str(person))][1]
    assert {c["id"]: c for c in crm.entities("contacts")}[int(target)]["lastName"] == "Renamed"


def test_a_changed_mapping_updates_the_contacts_it_touches(app, crm):
    _succeeded(run_cycle(app))
    with app.app_context():
        db.session.get(CrmMapping, ("gender", "2")).target_value = "1"
        db.session.commit()
    women = crm.source.scalar("SELECT COUNT(*) FROM dbo.membership m WHERE gender = 2 AND IDD = "
                              "(SELECT MAX(IDD) FROM dbo.membership v WHERE v.personVId = m.personVId)")
    run = run_job(app, "crm.contacts")
    assert run.status == "succeeded" and 0 < run.counters["pushed"] <= women and run.rows_inserted == 0
    assert not [c for c in crm.entities("contacts") if c.get("gender") == 2]


def test_an_invoice_with_a_trigger_product_gets_exactly_one_deal(app, crm):
    service = crm.source.rows("SELECT serviceId AS s, COUNT(*) AS n FROM dbo.ServiceInvoice GROUP BY serviceId "
                              "ORDER BY COUNT(*) DESC")[0]["s"]
    with app.app_context():
        db.session.add(CrmDealTrigger(service_id=service, funnel_id=1, funnel_level_id=12))
        db.session.commit()
    _succeeded(run_cycle(app))
    _succeeded(run_cycle(app))
    invoices = {i["id"]: i for i in crm.entities("invoices")}
    deals = crm.entities("deals")
    with_trigger = [i for i in invoices.values() if any(
        item["productId"] == _product_id(app, service) for item in i["items"])]
    assert with_trigger and len(deals) == len({d["invoiceId"] for d in deals}) >= len(with_trigger)
    assert {d["invoiceId"] for d in deals} >= {i["id"] for i in with_trigger}
    assert all(d["funnelId"] == 1 and d["funnelLevelId"] == 12 for d in deals)


def _product_id(app, service):
    return int(ledger(app, "products")[("products", str(service))][1])


def test_a_receipt_without_a_mapped_bank_account_is_skipped_naming_the_payment_method(app, crm):
    with app.app_context():
        db.session.delete(db.session.get(CrmMapping, ("bank_account", "3")))
        db.session.commit()
    _succeeded(run_cycle(app))
    cheques = {str(r["IDD"]) for r in crm.source.rows("SELECT IDD FROM dbo.receipt WHERE modeldaryaft = 3")}
    rows = ledger(app, "receipts")
    assert cheques and all(rows[("receipts", k)][0] == "skipped" for k in cheques)
    assert "no bank account is mapped for payment method 3" in rows[("receipts", next(iter(cheques)))][2]
    assert not [i for i in crm.entities("operating-incomes") if i["bankAccountId"] is None]


def test_rows_below_the_minimum_id_are_never_read(app, crm):
    cut = crm.source.scalar("SELECT MIN(IDD) FROM dbo.receipt") + 50
    with app.app_context():
        db.session.add(CrmMinimumId(table_name="receipt", min_id=cut))
        db.session.commit()
    _succeeded(run_cycle(app))
    keys = [int(k) for (_s, k) in ledger(app, "receipts")]
    assert keys and min(keys) >= cut


def test_an_expired_token_is_renewed_and_the_run_goes_on(app, crm):
    crm.faults(latency_ms=5)
    _succeeded(run_cycle(app))
    crm.expire_tokens()
    crm.source.execute("UPDATE dbo.service SET price = price + 1")
    run = run_job(app, "crm.products")
    assert run.status == "succeeded" and run.counters["pushed"] > 0
    assert crm.truth()["requests"]["login"] >= 2


def test_throttling_is_waited_out_without_duplicates(app, crm):
    app.config["CRM_RETRIES"] = 6  # every 7th request refused: a request may well be refused twice in a row
    crm.faults(throttle_every=7, retry_after=0.05)
    _succeeded(run_cycle(app))
    truth = crm.truth()
    assert truth["requests"]["throttled"] > 0 and crm.no_duplicates()[0]
    assert truth["counts"]["contacts"] == status_counts(app, "contacts")["synced"]


def test_a_create_whose_answer_was_lost_is_found_not_sent_twice(app, crm):
    number = crm.source.rows("SELECT invoiceNo FROM dbo.ServiceInvoice ORDER BY IDD")[3]["invoiceNo"]
    crm.faults(drop_after_create=[number])
    _succeeded(run_cycle(app))
    sent = [i for i in crm.entities("invoices") if i["number"] == number]
    assert len(sent) == 1 and sent[0]["status"] == "confirmed"
    assert crm.no_duplicates()[0]


def test_a_failing_crm_stops_the_run_and_the_rerun_creates_nothing_twice(app, crm):
    crm.faults(fail_from=150)
    runs = run_cycle(app)
    failed = [r for r in runs.values() if r.status == "failed"]
    assert failed and "500" in failed[0].reason
    crm.faults()
    _succeeded(run_cycle(app))
    assert crm.no_duplicates()[0]
    contacts = status_counts(app, "contacts")
    assert contacts.get("pending", 0) == 0 and crm.truth()["counts"]["contacts"] == contacts["synced"]
