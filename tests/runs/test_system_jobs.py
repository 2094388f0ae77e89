"""System jobs: retention purge and lost-run reconcile, run through the real executor."""
from datetime import timedelta

from sqlalchemy import func, select

from app import settings
from app.db import utcnow
from app.extensions import db
from app.runs.models import Run, RunLog
from app.runs.reaper import reconcile_runs
from tests.runs.helpers import get_run, held_lock_with_waiters, queue, wait_status


def _old_run(status, days_ago, job_id="tests.noop"):
    at = utcnow() - timedelta(days=days_ago)
    run = Run(job_id=job_id, lock_key=job_id, trigger="manual", status=status, params={},
              params_key=f'{{"age":{days_ago},"s":"{status}"}}', queued_at=at, started_at=at, finished_at=at)
    db.session.add(run)
    db.session.flush()
    db.session.add(RunLog(run_id=run.id, seq=1, at=at, level="INFO", message="old line"))
    return run


def test_purge_deletes_finished_runs_and_logs_past_retention_only(app, executor):
    with app.app_context():
        settings.put("retention_days", 7)
        old_ok, old_failed = _old_run("succeeded", 10).id, _old_run("failed", 8).id
        recent = _old_run("succeeded", 3).id
        db.session.commit()
    run_id, _ = queue(app, "system.purge")
    run = wait_status(app, run_id, "succeeded")
    assert run.summary.startswith("Purged 2 runs") and run.rows_deleted == 2
    with app.app_context():
        remaining = set(db.session.scalars(select(Run.id)))
        assert old_ok not in remaining and old_failed not in remaining and recent in remaining
        assert db.session.scalar(select(func.count()).select_from(RunLog).where(RunLog.run_id.in_([old_ok, old_failed]))) == 0
        assert db.session.scalar(select(func.count()).select_from(RunLog).where(RunLog.run_id == recent)) == 1


def test_reconcile_job_fails_stale_running_runs(app, executor):
    # The executor reaps lost runs on its own too; held off, only the job under test can find this one.
    executor.reap_every = float("inf")
    with app.app_context():
        stale = _old_run("running", 1, job_id="tests.forever")
        stale.finished_at, stale.heartbeat_at = None, utcnow() - timedelta(hours=1)
        db.session.commit()
        stale_id = stale.id
    run_id, _ = queue(app, "system.reconcile_runs")
    run = wait_status(app, run_id, "succeeded")
    assert run.summary == "Marked 1 lost runs failed"
    lost = wait_status(app, stale_id, "failed")
    assert lost.reason == "runner lost"


def test_a_run_queued_behind_a_held_lock_past_its_time_limit_gives_up_naming_the_holder(app):
    holder, short, long = held_lock_with_waiters(app, waited_seconds=2)
    with app.app_context():
        assert reconcile_runs() == []  # nothing was lost: the holder is alive
    gave_up = get_run(app, short)
    assert (gave_up.status, gave_up.reason) == ("failed", f"lock held by run {holder}")
    assert get_run(app, long).status == "queued"  # an hour's limit: it keeps waiting
    assert get_run(app, holder).status == "running"
