"""Concurrency guarantees of the runs engine, across real processes on PostgreSQL.

Every assertion reads what the processes committed: schedule_fires, runs, run_logs, run_locks.
"""
import json
import math
import threading
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from app.db import utcnow
from app.extensions import db
from app.runs.claim import note_lock_waits
from app.runs.models import Schedule
from app.runs.service import enqueue
from app.runs.reaper import reconcile_runs
from tests.conftest import requires_postgres, wait_for
from tests.runs.helpers import held_lock_with_waiters
from tests.runs.procs import FAST_ENGINE, procs  # noqa: F401 — the fixture

pytestmark = [requires_postgres, pytest.mark.slow]

STALE = float(FAST_ENGINE["LOCK_STALE_SECONDS"])




def query(app, sql, **params):
    """Rows as committed right now (a fresh connection, no session cache)."""
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(text(sql), params).mappings().all()


def queue(app, job_id, params=None, **kwargs):
    with app.app_context():
        run, created = enqueue(job_id, params, trigger="manual", requested_by="test", **kwargs)
        run_id = run.id
        db.session.commit()
        return run_id, created


def wait_for_processes(app, procs, children, scheduler=False, timeout=60):
    """Wait until every child's engine has written its worker_processes row (its scheduler running, if asked)."""
    pids = [c.pid for c in children]

    def ready():
        dead = [c.pid for c in children if c.poll() is not None]
        assert not dead, f"children {dead} exited\n{procs.tail()}"
        rows = query(app, "SELECT pid, scheduler FROM worker_processes WHERE pid = ANY(:pids)", pids=pids)
        return len({r.pid for r in rows if r.scheduler or not scheduler}) == len(pids)
    wait_for(ready, timeout=timeout, interval=0.1, message=f"{len(pids)} engines to start")


def run_row(app, run_id):
    return query(app, "SELECT * FROM runs WHERE id = :id", id=run_id)[0]


def wait_terminal(app, run_ids, timeout, procs):
    ids = list(run_ids)

    def done():
        rows = query(app, "SELECT count(*) AS n FROM runs WHERE id = ANY(:ids) AND status NOT IN ('queued', 'running')",
                     ids=ids)
        return rows[0].n == len(ids)
    try:
        wait_for(done, timeout=timeout, interval=0.1, message=f"{len(ids)} runs to end")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{procs.tail()}") from None


def assert_lock_intervals_never_overlap(app, lock_key):
    """Runs of one lock key never ran at once: neither their log lines nor their recorded times overlap."""
    # The first and last log lines are written while the lock is surely held ("started" after the
    # claim commits, "finished" before the release commits): a witness independent of started_at.
    spans = query(app, "SELECT l.run_id, min(l.at) AS first, max(l.at) AS last FROM run_logs l "
                       "JOIN runs r ON r.id = l.run_id WHERE r.lock_key = :k GROUP BY l.run_id ORDER BY first", k=lock_key)
    assert len(spans) >= 2
    for before, after in zip(spans, spans[1:]):
        assert before.last < after.first, f"runs {before.run_id} and {after.run_id} executed at the same time"
    runs = query(app, "SELECT id, pid, started_at, finished_at FROM runs WHERE lock_key = :k AND started_at IS NOT NULL "
                      "ORDER BY started_at, id", k=lock_key)
    assert len(runs) == len(spans)
    for before, after in zip(runs, runs[1:]):
        assert before.finished_at <= after.started_at, (
            f"recorded times of runs {before.id} (pid {before.pid}, {before.started_at}..{before.finished_at}) and "
            f"{after.id} (pid {after.pid}, started {after.started_at}) overlap by "
            f"{(before.finished_at - after.started_at).total_seconds() * 1000:.1f} ms")


# --- 1. schedules: N schedulers, one run per fire -----------------------------------------------

EVERY_SECOND = "*/1 * * * * *"  # six fields, seconds first
WINDOW_SECONDS = 20


def test_every_second_schedule_fires_exactly_once_per_second_across_four_schedulers(app, procs):
    with app.app_context():
        schedule = Schedule(job_id="tests.noop", name="every second", cron=EVERY_SECOND, timezone="UTC",
                            enabled=True, system=False, params={})
        db.session.add(schedule)
        db.session.commit()
        sid = schedule.id
    workers = [procs.worker() for _ in range(4)]
    wait_for_processes(app, procs, workers, scheduler=True)
    time.sleep(1)  # every scheduler has reconciled the schedule in (each does so at start)
    start = utcnow()
    time.sleep(WINDOW_SECONDS)
    end = utcnow()
    assert all(w.poll() is None for w in workers), procs.tail()

    window = query(app, "SELECT fire_time, run_id FROM schedule_fires WHERE schedule_id = :s "
                        "AND fire_time BETWEEN :a AND :b ORDER BY fire_time", s=sid, a=start, b=end)
    assert window, f"no fires recorded for cron {EVERY_SECOND!r}\n{procs.tail()}"
    wait_terminal(app, {f.run_id for f in window if f.run_id}, 20, procs)
    procs.stop_all()  # nothing fires while the whole history is checked

    times = [f.fire_time for f in window]
    assert all(t.microsecond == 0 for t in times), "fire times are whole seconds"
    assert len(times) == len(set(times))
    first = start.replace(microsecond=0) + timedelta(seconds=2)
    expected = {first + timedelta(seconds=i) for i in range(math.floor((end - first).total_seconds()) - 1)}
    assert len(expected) >= WINDOW_SECONDS - 3
    missing = sorted(expected - set(times))
    assert not missing, f"{len(missing)} fire times missing, first {missing[:5]}"
    assert all(f.run_id is not None for f in window), "every fire points to a run"
    statuses = query(app, "SELECT status, count(*) AS n FROM runs WHERE id = ANY(:ids) GROUP BY status",
                     ids=[f.run_id for f in window])
    assert {r.status: r.n for r in statuses} == {"succeeded": len({f.run_id for f in window})}

    # Over the whole test: no fire made two runs (a run no fire points to), and a fire that joined
    # an earlier fire's run did so only while that run was still in flight.
    fires = query(app, "SELECT f.fire_time, f.run_id, f.created_at, r.finished_at FROM schedule_fires f "
                       "LEFT JOIN runs r ON r.id = f.run_id WHERE f.schedule_id = :s ORDER BY f.fire_time", s=sid)
    runs = query(app, "SELECT id, trigger FROM runs WHERE schedule_id = :s", s=sid)
    by_run = defaultdict(list)
    for fire in fires:
        by_run[fire.run_id].append(fire)
    assert sorted(by_run) == sorted(r.id for r in runs), "a run with no fire, or a fire with no run"
    assert {r.trigger for r in runs} == {"schedule"}
    for run_id, joined in by_run.items():
        for later in joined[1:]:
            assert later.finished_at is None or later.finished_at > later.created_at, (
                f"the fire at {later.fire_time} joined run {run_id}, which had already finished")


# --- 2. triggers from many processes, one lock ----------------------------------------------------

def _start_triggerers(procs, tmp_path, count, job_id, params, n):
    go, stop = tmp_path / "go", tmp_path / "stop"
    outs = [tmp_path / f"answers-{i}.json" for i in range(n)]
    for out in outs:
        procs.script("trigger", job_id, str(count), json.dumps(params), str(go), str(out), str(stop))
    return go, stop, outs


def test_concurrent_triggers_from_eight_processes_each_get_a_run_and_runs_never_overlap(app, procs, tmp_path):
    go, stop, outs = _start_triggerers(procs, tmp_path, 25, "tests.shared_a", {"delay": "0.05"}, 8)
    wait_for(lambda: all(Path(f"{o}.ready").exists() for o in outs), timeout=60, interval=0.1,
             message="every triggering process to start")
    go.touch()  # all eight start triggering at once
    wait_for(lambda: all(o.exists() for o in outs), timeout=60, interval=0.1, message="every process's answers")
    answers = [tuple(a) for o in outs for a in json.loads(o.read_text())]

    assert len(answers) == 8 * 25
    unanswered = [a for a in answers if not isinstance(a[0], int)]
    assert not unanswered, f"{len(unanswered)} triggers got no run: {unanswered[:3]}"
    run_ids = {run_id for run_id, _ in answers}
    created = sorted(run_id for run_id, was_created in answers if was_created)
    assert created == sorted(run_ids), "each run was created by exactly one trigger; the rest joined it"
    wait_terminal(app, run_ids, 60, procs)

    runs = query(app, "SELECT id, status, reason, pid FROM runs WHERE id = ANY(:ids)", ids=list(run_ids))
    assert [r for r in runs if r.status != "succeeded"] == []
    everything = query(app, "SELECT count(*) AS n FROM runs WHERE job_id = 'tests.shared_a'")[0].n
    assert everything == len(run_ids), "no run exists that no trigger was told about"
    assert len(run_ids) < len(answers), "triggers raced: some joined the run already in flight"
    assert_lock_intervals_never_overlap(app, "tests.shared")
    stop.touch()


def assert_contended(app, run_ids):
    """Several live executor processes competed, and runs were seen waiting for the held lock.

    Which process wins each claim is not promised (one that just released a lock may well
    take the next run on it in the same transaction); that they never overlap is.
    """
    executors = query(app, "SELECT count(*) AS n FROM worker_processes WHERE executor")[0].n
    waited = query(app, "SELECT count(*) AS n FROM runs WHERE id = ANY(:ids) AND lock_waits > 0", ids=list(run_ids))[0].n
    assert executors >= 2 and waited >= 1, (executors, waited)


def test_two_jobs_sharing_a_lock_never_run_at_once_across_processes(app, procs):
    workers = [procs.worker("--no-scheduler") for _ in range(4)]
    wait_for_processes(app, procs, workers)
    run_ids = []
    with app.app_context():
        for i in range(12):  # distinct delays: distinct params, so none is deduplicated
            for job_id in ("tests.shared_a", "tests.shared_b"):
                run, created = enqueue(job_id, {"delay": f"{0.03 + i / 1000:.3f}"}, trigger="manual")
                assert created
                run_ids.append(run.id)
        db.session.commit()
    wait_terminal(app, run_ids, 60, procs)

    runs = query(app, "SELECT id, job_id, status, reason, pid FROM runs WHERE id = ANY(:ids)", ids=run_ids)
    assert [dict(r) for r in runs if r.status != "succeeded"] == [], procs.tail()
    assert {r.job_id for r in runs} == {"tests.shared_a", "tests.shared_b"}
    assert_contended(app, run_ids)
    assert_lock_intervals_never_overlap(app, "tests.shared")


def test_counting_lock_waits_never_waits_for_runs_another_claim_has_locked(app):
    """A poll that counts waiting runs skips rows a concurrent claim holds, rather than deadlock with it.

    The count shares a transaction with the poll's own claim, which may hold the lock row the
    other claim needs next: waiting here would complete the cycle.
    """
    holder, claimed_elsewhere, free_to_count = held_lock_with_waiters(app, waited_seconds=0)
    with app.app_context(), db.engine.connect() as other, db.engine.connect() as poll:
        other.begin()
        other.execute(text("SELECT id FROM runs WHERE id = :id FOR UPDATE"), {"id": claimed_elsewhere})
        with poll.begin():
            poll.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting would fail the count, not hang it
            note_lock_waits(poll)
        other.rollback()
    waits = {r.id: r.lock_waits for r in query(app, "SELECT id, lock_waits FROM runs")}
    assert waits == {holder: 0, claimed_elsewhere: 0, free_to_count: 1}


def test_the_reaper_leaves_a_queued_run_another_claim_has_locked_for_its_next_pass(app):
    """Giving up a long lock wait skips a run a claim holds, rather than wait for it while holding freed locks."""
    holder, short, _ = held_lock_with_waiters(app, waited_seconds=2)
    with app.app_context(), db.engine.connect() as other:
        other.begin()
        other.execute(text("SELECT id FROM runs WHERE id = :id FOR UPDATE"), {"id": short})
        reaper = threading.Thread(target=_reconcile_in, args=(app,))
        reaper.start()
        reaper.join(timeout=10)
        waited = reaper.is_alive()
        other.rollback()
        reaper.join()
    assert not waited, "the reaper waited for a row another transaction had locked"
    assert run_row(app, short).status == "queued"
    _reconcile_in(app)  # the next pass, with the row free
    assert (run_row(app, short).status, run_row(app, short).reason) == ("failed", f"lock held by run {holder}")


def _reconcile_in(app):
    with app.app_context():
        reconcile_runs()


# --- 3. a runner killed with SIGKILL --------------------------------------------------------------

def _start_forever_and_kill_its_worker(app, procs, **env):
    """Run tests.forever on a worker, wait for its heartbeat, SIGKILL that worker; return the run id."""
    victim = procs.worker("--no-scheduler", **env)
    wait_for_processes(app, procs, [victim])
    run_id, created = queue(app, "tests.forever")
    assert created

    def running_here():
        run = run_row(app, run_id)
        return run.status == "running" and run.heartbeat_at is not None and run.pid == victim.pid
    wait_for(running_here, timeout=20, interval=0.05, message="tests.forever running with a heartbeat")
    lock = query(app, "SELECT run_id FROM run_locks WHERE key = 'tests.forever'")[0]
    assert lock.run_id == run_id
    procs.kill(victim)  # SIGKILL, and reaped: the pid is really gone
    return run_id


def _lock_holder(app, key):
    return query(app, "SELECT run_id FROM run_locks WHERE key = :k", k=key)[0].run_id


def test_killed_runners_lock_is_taken_over_after_the_stale_limit_by_a_waiting_run(app, procs):
    lost_id = _start_forever_and_kill_its_worker(app, procs)
    killed_at = utcnow()
    successor = procs.worker("--no-scheduler")
    # Same job and lock, other params: not the in-flight run, so it waits for the lock.
    waiting_id, created = queue(app, "tests.forever", {"attempt": 2}, raw_params=False)
    assert created
    wait_for(lambda: run_row(app, lost_id).status != "running", timeout=STALE + 20, interval=0.1,
             message="the lost run to end")

    lost = run_row(app, lost_id)
    assert (lost.status, lost.reason) == ("failed", "runner lost")
    assert lost.finished_at >= killed_at
    wait_for(lambda: run_row(app, waiting_id).status == "running", timeout=10, interval=0.1,
             message="the waiting run to start")
    assert run_row(app, waiting_id).pid == successor.pid
    assert _lock_holder(app, "tests.forever") == waiting_id


def test_killed_runners_run_is_failed_after_the_stale_limit_and_the_job_can_run_again(app, procs):
    lost_id = _start_forever_and_kill_its_worker(app, procs)
    successor = procs.worker("--no-scheduler")
    wait_for_processes(app, procs, [successor])
    # Nothing else is queued: the engine itself must notice the stale lock within seconds.
    deadline = time.monotonic() + STALE + 8
    while run_row(app, lost_id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    lost = run_row(app, lost_id)
    assert lost.status != "running", (
        f"run {lost_id} of a SIGKILLed worker still running {STALE + 8:g} s after the kill (stale limit {STALE:g} s); "
        f"lock held by run {_lock_holder(app, 'tests.forever')}, and tests.forever cannot be queued again")
    assert (lost.status, lost.reason) == ("failed", "runner lost")
    assert _lock_holder(app, "tests.forever") != lost_id

    again_id, created = queue(app, "tests.forever")
    assert created, f"a new tests.forever joined run {again_id} instead of being queued"
    wait_for(lambda: run_row(app, again_id).status == "running", timeout=10, interval=0.1,
             message="the new run to start")
    assert run_row(app, again_id).pid == successor.pid
    assert _lock_holder(app, "tests.forever") == again_id


def test_runs_reconcile_fails_a_dead_local_runners_run_without_waiting_for_the_stale_limit(app, procs):
    lost_id = _start_forever_and_kill_its_worker(app, procs, LOCK_STALE_SECONDS=600)
    killed = time.monotonic()
    code, output = procs.flask("runs", "reconcile", LOCK_STALE_SECONDS=600)
    assert code == 0, output
    assert f"1 run(s) marked failed: {lost_id}" in output
    assert time.monotonic() - killed < 60, "well inside the 600 s stale limit"

    lost = run_row(app, lost_id)
    assert (lost.status, lost.reason) == ("failed", "runner lost")
    assert _lock_holder(app, "tests.forever") is None

    again_id, created = queue(app, "tests.forever")
    assert created
    successor = procs.worker("--no-scheduler", LOCK_STALE_SECONDS=600)
    wait_for(lambda: run_row(app, again_id).status == "running", timeout=30, interval=0.1,
             message="the new run to start on the second worker")
    assert run_row(app, again_id).pid == successor.pid
