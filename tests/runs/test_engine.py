"""The runs engine in one process: execution, single flight, cancel, timeout, locks, dependencies."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.db import utcnow
from app.extensions import db
from app.runs import lock
from app.runs.models import Run, RunLock
from app.runs.registry import Param, get_job, job
from tests.conftest import wait_for
from tests.jobs import test_items
from tests.runs.helpers import count_runs, get_run, log_messages, queue, wait_status


def test_run_reports_progress_counters_summary_and_logs(app, executor):
    run_id, created = queue(app, "tests.sleepy", {"steps": "3", "delay": "0.05"})
    run = wait_status(app, run_id, "succeeded")
    assert created
    assert (run.progress_done, run.progress_total, run.progress_message) == (30, 30, "step 3")
    assert (run.rows_fetched, run.rows_inserted) == (30, 30)
    assert run.summary == "Refreshed 30 items" and run.started_at and run.finished_at and run.pid
    messages = log_messages(app, run_id)
    assert messages[0].startswith("started job=tests.sleepy")
    assert "step 2 of 3" in messages
    assert messages[-1].startswith("finished status=succeeded")


def test_same_job_and_params_in_flight_is_answered_with_the_same_run(app):
    first, created_first = queue(app, "tests.sleepy", {"steps": "2"})
    second, created_second = queue(app, "tests.sleepy", {"steps": "2"})
    other, created_other = queue(app, "tests.sleepy", {"steps": "3"})
    assert (created_first, created_second, created_other) == (True, False, True)
    assert first == second != other
    assert count_runs(app, job_id="tests.sleepy") == 2


def test_a_finished_run_does_not_block_a_new_one(app, executor):
    first, _ = queue(app, "tests.noop")
    wait_status(app, first, "succeeded")
    second, created = queue(app, "tests.noop")
    assert created and second != first


def test_failure_is_recorded_with_the_exception_message(app, executor):
    run_id, _ = queue(app, "tests.fail")
    run = wait_status(app, run_id, "failed")
    assert run.reason == "RuntimeError: source answered 500: upstream exploded"
    assert any("Traceback" in m for m in log_messages(app, run_id))


def test_cancel_stops_at_next_check_and_rolls_back_the_current_batch(app, executor, admin):
    run_id, _ = queue(app, "tests.batches", {"batches": "20", "size": "5", "delay": "0.2"})
    wait_for(lambda: get_run(app, run_id).progress_done >= 1, message="first batch committed")
    response = admin.post(f"/api/runs/{run_id}/cancel", json={})
    assert response.status_code == 200
    run = wait_status(app, run_id, "cancelled")
    assert run.reason == "cancelled by alice"
    with app.app_context():
        labels = db.session.scalars(select(test_items.c.label)).all()
    committed = run.progress_done
    assert committed >= 1
    assert committed < 20, "the run must stop early"
    assert len(labels) == committed * 5, "the interrupted batch must leave no rows"
    assert sorted({int(label[1:].split("-")[0]) for label in labels}) == list(range(committed))


def test_cancel_of_a_queued_run_ends_it_at_once(app, admin):
    run_id, _ = queue(app, "tests.noop")  # no executor: stays queued
    assert admin.post(f"/api/runs/{run_id}/cancel", json={}).status_code == 200
    run = get_run(app, run_id)
    assert run.status == "cancelled" and run.reason == "cancelled by alice" and run.started_at is None
    assert admin.post(f"/api/runs/{run_id}/cancel", json={}).status_code == 409


def test_timeout_fails_the_run(app, executor):
    run_id, _ = queue(app, "tests.timeout")
    run = wait_status(app, run_id, "failed")
    assert run.reason == "timed out after 0.5 s"


def test_dependent_job_is_queued_when_its_predecessor_succeeds(app, executor):
    run_id, _ = queue(app, "tests.noop")
    wait_status(app, run_id, "succeeded")
    dependent = wait_for(lambda: _first(app, "tests.after_noop"), message="dependent run")
    assert dependent.trigger == "dependency" and dependent.parent_run_id == run_id
    wait_status(app, dependent.id, "succeeded")


def test_failed_predecessor_queues_nothing(app, executor):
    run_id, _ = queue(app, "tests.fail")
    wait_status(app, run_id, "failed")
    assert count_runs(app, job_id="tests.after_noop") == 0


def _first(app, job_id):
    with app.app_context():
        run = db.session.scalar(select(Run).where(Run.job_id == job_id))
        if run is not None:
            db.session.expunge(run)
        return run


def test_jobs_sharing_a_lock_never_run_at_once(app, executor):
    ids = [queue(app, job_id, {"delay": "0.3"})[0] for job_id in ("tests.shared_a", "tests.shared_b")]
    runs = [wait_status(app, run_id, "succeeded") for run_id in ids]
    first, second = sorted(runs, key=lambda r: r.started_at)
    timeline = [(r.job_id, r.started_at, r.finished_at, r.lock_waits) for r in (first, second)]
    assert second.started_at >= first.finished_at, timeline
    assert second.lock_waits >= 1, timeline
    with app.app_context():
        assert db.session.get(RunLock, "tests.shared").run_id is None


def test_stale_lock_is_freed_by_the_reaper_and_its_run_marked_runner_lost(app, executor):
    with app.app_context():
        old = utcnow() - timedelta(minutes=5)
        dead = Run(job_id="tests.forever", lock_key="tests.forever", trigger="manual", status="running",
                   started_at=old, heartbeat_at=old, params={}, params_key='{"dead":1}')
        db.session.add(dead)
        db.session.flush()
        db.session.add(RunLock(key="tests.forever", run_id=dead.id, owner="gone:1", acquired_at=old, heartbeat_at=old))
        db.session.commit()
        dead_id = dead.id
    run_id, _ = queue(app, "tests.forever")
    wait_status(app, run_id, "running", timeout=2 * app.config["LOCK_STALE_SECONDS"] + 5)
    lost = get_run(app, dead_id)
    assert (lost.status, lost.reason) == ("failed", "runner lost")
    with app.app_context():
        assert db.session.get(RunLock, "tests.forever").run_id == run_id
        from app.runs.service import cancel
        cancel(db.session.get(Run, run_id), "tester")
        db.session.commit()
    wait_status(app, run_id, "cancelled")


def test_a_held_lock_is_not_taken_until_released_or_stale(app):
    with app.app_context(), db.engine.begin() as conn:
        now = utcnow()
        assert lock.acquire(conn, "k", 1, "a")
        assert not lock.acquire(conn, "k", 2, "b")
        assert lock.heartbeat(conn, "k", 1, now) and not lock.heartbeat(conn, "k", 2, now)
        assert lock.release_stale(conn, now, now - timedelta(seconds=60)) == [], "a fresh lock is not stale"
        lock.release(conn, "k", 1)
        assert lock.acquire(conn, "k", 2, "b")
        later = now + timedelta(minutes=5)
        assert lock.release_stale(conn, later, later - timedelta(seconds=60)) == [2]
        assert lock.acquire(conn, "k", 3, "c")


def test_run_whose_lock_was_taken_over_stops_as_lost(app, executor):
    run_id, _ = queue(app, "tests.forever")
    wait_status(app, run_id, "running")
    with app.app_context():
        # Another process decided this runner was dead and took the lock.
        db.session.execute(update(RunLock).where(RunLock.key == "tests.forever").values(run_id=999999))
        db.session.commit()
    run = wait_status(app, run_id, "failed")
    assert run.reason.startswith("runner lost")


def test_log_tail_returns_lines_while_running_and_after_seq(app, executor, admin):
    run_id, _ = queue(app, "tests.sleepy", {"steps": "6", "delay": "0.25"})
    body = wait_for(lambda: _tail(admin, run_id, 0) if len(_tail(admin, run_id, 0)["lines"]) >= 2 else None,
                    message="log lines while running")
    assert body["status"] == "running" and not body["done"]
    seqs = [line["seq"] for line in body["lines"]]
    assert seqs == sorted(seqs) and seqs[0] == 1
    later = _tail(admin, run_id, seqs[-1])
    assert all(line["seq"] > seqs[-1] for line in later["lines"])
    wait_status(app, run_id, "succeeded")
    final = _tail(admin, run_id, 0)
    assert final["done"] and final["lines"][-1]["message"].startswith("finished status=succeeded")


def _tail(client_auth, run_id, after):
    response = client_auth.client.get(f"/api/runs/{run_id}/logs?after={after}")
    assert response.status_code == 200
    return response.get_json()


def test_run_status_json(app, executor, admin):
    run_id, _ = queue(app, "tests.sleepy", {"steps": "1", "delay": "0.01"})
    wait_status(app, run_id, "succeeded")
    data = admin.client.get(f"/api/runs/{run_id}").get_json()
    assert data["status"] == "succeeded" and data["progress"] == {"done": 10, "total": 10, "message": "step 1"}
    assert data["counters"]["inserted"] == 10 and data["duration"] >= 0
    assert data["outcome"].startswith("Refreshed 10 items in ")
    assert admin.client.get("/api/runs/999999").status_code == 404
    assert admin.client.get("/api/runs/999999").get_json()["error"]
    assert admin.client.get(f"/api/runs/{run_id}/logs?after=x").status_code == 400


def test_runs_of_unknown_jobs_wait_for_a_process_that_knows_them(app, executor):
    with app.app_context():
        db.session.add(Run(job_id="elsewhere.job", lock_key="elsewhere.job", trigger="manual", params={}))
        db.session.commit()
    run_id, _ = queue(app, "tests.noop")
    wait_status(app, run_id, "succeeded")
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Run.job_id == "elsewhere.job", Run.status == "queued")) == 1


def test_every_stderr_line_of_a_run_carries_its_run_id(app, executor):
    import logging

    from app.logging_setup import RunIdFilter

    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Collect()
    handler.addFilter(RunIdFilter())
    logging.getLogger().addHandler(handler)
    try:
        run_id, _ = queue(app, "tests.fail")
        wait_status(app, run_id, "failed")
    finally:
        logging.getLogger().removeHandler(handler)
    from_run = [r for r in records if r.name == "syncdeck.run"]
    assert from_run and all(r.run_id == run_id for r in from_run)
    library = [r for r in records if r.name == "tests.jobs.library"]
    assert library and library[0].run_id == run_id


def test_a_lock_naming_a_param_is_one_lock_per_value():
    @job("tests.per_company", title="Per company", connector="tests", lock="tests:{company}",
         params=(Param("company", required=True), Param("date", "date")))
    def per_company(ctx):
        pass

    declared = get_job("tests.per_company")
    assert declared.lock_key_for({"company": "co01", "date": "2026-03-27"}) == "tests:co01"
    assert declared.lock_key_for({"company": "co02"}) == "tests:co02"
    with pytest.raises(ValueError, match="names \\['shop'\\]"):
        job("tests.bad_lock", lock="tests:{shop}", params=(Param("company"),))(lambda ctx: None)


def test_runs_of_a_per_param_lock_take_their_own_key(app):
    @job("tests.per_shop", title="Per shop", connector="tests", lock="tests:{shop}", params=(Param("shop"),))
    def per_shop(ctx):
        pass

    first, _ = queue(app, "tests.per_shop", {"shop": "a"})
    second, _ = queue(app, "tests.per_shop", {"shop": "b"})
    assert (get_run(app, first).lock_key, get_run(app, second).lock_key) == ("tests:a", "tests:b")
