"""The push shape over real HTTP to a fake target: sent once, changes updated, one bad record fails alone."""
import pytest
import requests
from sqlalchemy import select

from app.connectors.base.push import cursor_value
from app.connectors.base.push_models import SyncRecord
from app.connectors.base import FakeSource
from app.extensions import db
from app.fakes.launch import running
from tests.conftest import create_user
from tests.connectors.base import push_jobs
from tests.runs.helpers import run_job


@pytest.fixture(scope="module")
def target_url():
    with running(FakeSource(server=("-m", "app.fakes.push_target"))) as url:
        yield url


@pytest.fixture
def target(app, target_url, executor):
    requests.post(f"{target_url}/__fake/reset", timeout=10)
    app.config.update(PUSH_TEST_URL=target_url, PUSH_TEST_RECORDS=records(7))
    return Target(target_url)


class Target:
    def __init__(self, url):
        self.url = url

    def truth(self):
        return requests.get(f"{self.url}/__fake/truth", timeout=10).json()

    def faults(self, **faults):
        requests.post(f"{self.url}/__fake/faults", json=faults, timeout=10).raise_for_status()


def records(n, changed=()):
    return [{"key": f"k{i:03d}", "data": f"v{i}{'!' if f'k{i:03d}' in changed else ''}"} for i in range(n)]


def ledger(app):
    with app.app_context():
        rows = db.session.scalars(select(SyncRecord).order_by(SyncRecord.source_key)).all()
        return {r.source_key: (r.status, r.target_id, r.message, r.attempts) for r in rows}


def push(app):
    return run_job(app, "tests.push_things", timeout=60)


def test_a_full_push_creates_each_record_once_and_a_second_sends_nothing(app, target):
    run = push(app)
    assert run.status == "succeeded" and run.counters == {"pushed": 7, "skipped": 0} and run.rows_inserted == 7
    truth = target.truth()
    assert sorted(t["key"] for t in truth["things"]) == [f"k{i:03d}" for i in range(7)]
    assert {status for status, *_ in ledger(app).values()} == {"synced"}
    again = push(app)
    assert again.status == "succeeded" and again.counters["pushed"] == 0
    assert target.truth()["requests"] == truth["requests"]  # not one call more
    with app.app_context():
        assert cursor_value(push_jobs.THINGS) == "k006"


def test_a_changed_record_is_updated_not_created_again(app, target):
    push(app)
    app.config["PUSH_TEST_RECORDS"] = records(7, changed={"k002"})
    run = push(app)
    assert run.counters["pushed"] == 1 and run.rows_updated == 1 and run.rows_inserted == 0
    things = target.truth()["things"]
    assert len(things) == 7 and next(t for t in things if t["key"] == "k002")["data"] == "v2!"


def test_a_rejected_record_fails_alone_and_goes_through_after_a_retry(app, admin, target):
    target.faults(reject_keys=["k003"])
    run = push(app)
    assert run.status == "succeeded" and run.rows_failed == 1 and run.counters["pushed"] == 6
    status, _target, message, attempts = ledger(app)["k003"]
    assert status == "failed" and "422: Validation failed: k003 has no mobile number" in message and attempts == 1
    page = admin.client.get("/records/?status=failed").get_data(as_text=True)
    assert "k003 has no mobile number" in page
    target.faults()
    assert push(app).counters["pushed"] == 0  # failed and unchanged: waits for a person
    failed_id = _id(app, "k003")
    assert admin.post("/records/retry", data={"ids": [failed_id]}).status_code == 303
    assert ledger(app)["k003"][0] == "pending"
    assert push(app).counters["pushed"] == 1 and ledger(app)["k003"][0] == "synced"
    assert len(target.truth()["things"]) == 7


def test_ignored_records_are_never_sent(app, admin, target):
    target.faults(reject_keys=["k001", "k004"])
    push(app)
    assert admin.post("/records/ignore", data={"all": "1", "status": "failed"}).status_code == 303
    assert {ledger(app)[k][0] for k in ("k001", "k004")} == {"ignored"}
    target.faults()
    app.config["PUSH_TEST_RECORDS"] = records(7, changed={"k001"})
    push(app)
    assert ledger(app)["k001"][0] == "ignored" and len(target.truth()["things"]) == 5


def test_a_failing_target_stops_the_run_with_the_cursor_at_the_last_whole_batch(app, target):
    target.faults(fail_from=5)  # batches of 3: the second batch's second write fails
    run = push(app)
    assert run.status == "failed" and "500" in run.reason
    created = {t["key"] for t in target.truth()["things"]}
    synced = {k for k, (status, *_) in ledger(app).items() if status == "synced"}
    assert synced <= created and len(created) == 4
    with app.app_context():
        assert cursor_value(push_jobs.THINGS) == "k002"
    target.faults()
    assert push(app).status == "succeeded"
    things = target.truth()["things"]
    assert sorted(t["key"] for t in things) == [f"k{i:03d}" for i in range(7)]  # no duplicate


def test_a_create_whose_answer_was_lost_is_found_not_sent_twice(app, target):
    target.faults(drop_after_create=["k005"])
    run = push(app)
    assert run.status == "failed" and ledger(app)["k005"][0] == "pending"
    target.faults()
    assert push(app).status == "succeeded"
    things = [t for t in target.truth()["things"] if t["key"] == "k005"]
    assert len(things) == 1 and ledger(app)["k005"][:2] == ("synced", str(things[0]["id"]))


def test_records_page_counts_filters_exports_and_guards_its_actions(app, admin, auth, target):
    target.faults(reject_keys=["k000"])
    push(app)
    page = admin.client.get("/records/?connector=tests&stream=things").get_data(as_text=True)
    assert 'data-count="synced"' in page and "k006" in page
    failed = admin.client.get("/records/?status=failed").get_data(as_text=True)
    assert "k000" in failed and "k006" not in failed
    csv = admin.client.get("/records/export.csv?status=synced").get_data(as_text=True).splitlines()
    assert csv[0].startswith("id,connector,stream,source_key") and len(csv) == 7
    assert admin.client.get("/records/?status=nonsense").status_code == 400
    assert admin.post("/records/retry", data={}).status_code == 400
    with app.app_context():
        create_user("vic", roles=("viewer",))
    auth.logout()
    auth.login("vic")
    assert auth.post("/records/retry", data={"ids": [_id(app, "k000")]}).status_code == 403
    assert ledger(app)["k000"][0] == "failed"


def _id(app, key):
    with app.app_context():
        return db.session.scalar(select(SyncRecord.id).where(SyncRecord.source_key == key))
