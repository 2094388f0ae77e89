"""The push shape over real HTTP to a fake target: sent once, changes updated, one bad record fails alone."""
from sqlalchemy import select

from app.connectors.base.push import GONE, cursor_value
from app.connectors.base.push_models import SyncRecord
from app.extensions import db
from app.runs.service import cancel
from app.runs.models import Run
from tests.conftest import wait_for
from tests.connectors.base import push_jobs
from tests.connectors.base.conftest import push_records
from tests.runs.helpers import latest_run, queue, run_job, wait_status

ALL_KEYS = [f"k{i:03d}" for i in range(7)]


def ledger(app):
    """{source key: (status, target id, message, attempts)}."""
    with app.app_context():
        rows = db.session.scalars(select(SyncRecord).order_by(SyncRecord.source_key)).all()
        return {r.source_key: (r.status, r.target_id, r.message, r.attempts) for r in rows}


def record_id(app, key):
    with app.app_context():
        return db.session.scalar(select(SyncRecord.id).where(SyncRecord.source_key == key))


def cursor(app):
    with app.app_context():
        return cursor_value(push_jobs.THINGS)


def push(app, **params):
    return run_job(app, "tests.push_things", params, timeout=60)


def test_a_full_push_creates_each_record_once_and_a_second_sends_nothing(app, push_target):
    run = push(app)
    assert run.status == "succeeded" and run.counters == {"pushed": 7, "skipped": 0}
    assert (run.rows_fetched, run.rows_inserted, run.rows_updated, run.rows_failed) == (7, 7, 0, 0)
    truth = push_target.truth()
    assert push_target.keys() == ALL_KEYS
    assert {status for status, *_ in ledger(app).values()} == {"synced"}
    assert all(target for _, target, *_ in ledger(app).values())
    again = push(app)
    assert again.status == "succeeded" and again.counters["pushed"] == 0
    assert push_target.truth()["requests"] == truth["requests"]  # not one call more
    assert cursor(app) == "k006"


def test_a_changed_record_is_updated_not_created_again(app, push_target):
    push(app)
    app.config["PUSH_TEST_RECORDS"] = push_records(7, changed={"k002"})
    run = push(app)
    assert run.counters["pushed"] == 1 and run.rows_updated == 1 and run.rows_inserted == 0
    truth = push_target.truth()
    assert truth["requests"]["update"] == 1 and push_target.keys() == ALL_KEYS
    assert next(t for t in truth["things"] if t["key"] == "k002")["data"] == "v2!"


def test_a_rejected_record_fails_alone_and_goes_through_after_a_retry(app, admin, push_target):
    push_target.faults(reject_keys=["k003"])
    run = push(app)
    assert run.status == "succeeded" and run.rows_failed == 1 and run.counters["pushed"] == 6
    status, _target, message, attempts = ledger(app)["k003"]
    assert status == "failed" and "422: Validation failed: k003 has no mobile number" in message and attempts == 1
    assert "k003 has no mobile number" in admin.client.get("/records/?status=failed").get_data(as_text=True)
    push_target.faults()
    assert push(app).counters["pushed"] == 0  # failed and unchanged: waits for a person
    assert admin.post("/records/retry", data={"ids": [record_id(app, "k003")]}).status_code == 303
    assert ledger(app)["k003"][0] == "pending"
    assert push(app).counters["pushed"] == 1
    assert ledger(app)["k003"][0] == "synced" and ledger(app)["k003"][3] == 2
    assert push_target.keys() == ALL_KEYS


def test_a_record_that_cannot_be_sent_yet_is_skipped_with_the_reason(app, push_target):
    app.config["PUSH_TEST_RECORDS"] = push_records(7, k004="no-contact")
    run = push(app)
    assert run.status == "succeeded" and run.counters == {"pushed": 6, "skipped": 1}
    assert ledger(app)["k004"][:3] == ("skipped", "", "k004: its contact is not synced yet")
    assert push(app).counters["skipped"] == 0  # unchanged: not tried again
    app.config["PUSH_TEST_RECORDS"] = push_records(7)  # its contact is there now: new content
    assert push(app).counters["pushed"] == 1 and push_target.keys() == ALL_KEYS


def test_ignored_records_are_never_sent_until_retried(app, admin, push_target):
    push_target.faults(reject_keys=["k001", "k004"])
    push(app)
    assert admin.post("/records/ignore", data={"all": "1", "status": "failed"}).status_code == 303
    assert {ledger(app)[k][0] for k in ("k001", "k004")} == {"ignored"}
    push_target.faults()
    app.config["PUSH_TEST_RECORDS"] = push_records(7, changed={"k001"})
    push(app)
    assert ledger(app)["k001"][0] == "ignored" and len(push_target.keys()) == 5
    admin.post("/records/retry", data={"ids": [record_id(app, "k001")]})
    push(app)
    assert ledger(app)["k001"][0] == "synced" and len(push_target.keys()) == 6


def test_a_failing_target_stops_the_run_with_the_cursor_at_the_last_whole_batch(app, push_target):
    push_target.faults(fail_from=5)  # batches of 3, one at a time: the second batch's second write fails
    run = push(app, workers=1)
    assert run.status == "failed" and "500" in run.reason
    created = set(push_target.keys())
    synced = {k for k, (status, *_) in ledger(app).items() if status == "synced"}
    assert synced <= created and created == {"k000", "k001", "k002", "k003"}
    assert ledger(app)["k004"][:2] == ("pending", "") and "k006" not in ledger(app)  # the third batch never began
    assert ledger(app)["k005"][3] == 0  # after the crash the rest of its batch was not even tried
    assert cursor(app) == "k002"
    push_target.faults()
    before = push_target.truth()["requests"]["find"]
    assert push(app).status == "succeeded"
    assert push_target.keys() == ALL_KEYS  # no duplicate
    assert push_target.truth()["requests"]["find"] > before  # pending rows were looked up before any resend
    assert {status for status, *_ in ledger(app).values()} == {"synced"} and cursor(app) == "k006"


def test_a_create_whose_answer_was_lost_is_found_not_sent_twice(app, push_target):
    push_target.faults(drop_after_create=["k005"])
    run = push(app)
    assert run.status == "failed" and ledger(app)["k005"][0] == "pending"
    push_target.faults()
    assert push(app).status == "succeeded"
    things = [t for t in push_target.truth()["things"] if t["key"] == "k005"]
    assert len(things) == 1 and ledger(app)["k005"][:2] == ("synced", str(things[0]["id"]))
    assert "found at the target" in ledger(app)["k005"][2]


def test_a_retry_behind_the_cursor_is_fetched_by_key(app, admin, push_target):
    push_target.faults(reject_keys=["k001"])
    push(app, incremental=True)
    assert cursor(app) == "k006" and ledger(app)["k001"][0] == "failed"
    push_target.faults()
    app.config["PUSH_TEST_RECORDS"] = [r for r in push_records(7) if r["key"] != "k002"]
    with app.app_context():
        db.session.execute(SyncRecord.__table__.update().where(SyncRecord.source_key == "k002")
                           .values(status="failed"))  # a failed record since deleted at the source
        db.session.commit()
    admin.post("/records/retry", data={"all": "1", "status": "failed"})
    run = push(app, incremental=True)
    assert run.status == "succeeded" and run.counters["pushed"] == 1
    assert ledger(app)["k001"][0] == "synced" and push_target.keys() == ALL_KEYS
    assert ledger(app)["k002"][:3:2] == ("skipped", GONE)
    assert cursor(app) == "k006"


def test_a_cancelled_run_stops_between_batches(app, push_target):
    app.config["PUSH_TEST_RECORDS"] = push_records(7, k001=push_jobs.HOLD)
    run_id, _ = queue(app, "tests.push_things")
    wait_for(lambda: ledger(app).get("k001", ("",))[0] == "pending", message="the first batch to be sent")
    with app.app_context():
        cancel(db.session.get(Run, run_id), "tester")
        db.session.commit()
    wait_for(lambda: push_jobs.RUNNING["ctx"].cancelled_by, message="the cancel flag to reach the run")
    push_jobs.RELEASE.set()
    run = wait_status(app, run_id, "cancelled", "failed", "succeeded")
    assert run.status == "cancelled" and run.counters["pushed"] == 3
    assert push_target.keys() == ["k000", "k001", "k002"] and cursor(app) == "k002"
    assert latest_run(app, "tests.push_things").id == run_id
