"""Jobs the platform itself runs: retention purge, stale-run reconcile, data freshness check."""
import os
import socket
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select, update

from ..db import utcnow, with_row_locks
from ..extensions import db
from ..dashboard import settings
from . import lock
from .models import TERMINAL, Run, RunLock, RunLog, ScheduleFire, WorkerProcess
from .registry import _REGISTRY, job

PURGE_BATCH = 5000


@job("system.purge", title="Purge old runs and logs", connector="system", system=True,
     cron="17 3 * * *", description="Delete runs, log lines and schedule fires past the retention period.")
def purge(ctx):
    days = settings.get("retention_days")
    cutoff = utcnow() - timedelta(days=days)
    ctx.log.info("retention_days=%s cutoff=%s", days, cutoff.isoformat(timespec="seconds"))
    deleted = 0
    while True:
        ids = db.session.scalars(
            select(Run.id).where(Run.status.in_(TERMINAL), Run.finished_at < cutoff, Run.id != ctx.run_id)
            .limit(PURGE_BATCH)).all()
        if not ids:
            break
        db.session.execute(delete(RunLog).where(RunLog.run_id.in_(ids)))
        db.session.execute(delete(Run).where(Run.id.in_(ids)))
        db.session.commit()  # one batch at a time keeps transactions short
        deleted += len(ids)
        ctx.count(deleted=len(ids))
        ctx.progress(deleted, None, f"{deleted} runs purged")
    fires = db.session.execute(delete(ScheduleFire).where(ScheduleFire.created_at < cutoff)).rowcount
    processes = db.session.execute(
        delete(WorkerProcess).where(WorkerProcess.heartbeat_at < utcnow() - timedelta(days=1))).rowcount
    db.session.commit()
    ctx.summary = f"Purged {deleted} runs, {fires} schedule fires, {processes} dead processes"
    ctx.log.info(ctx.summary)


@job("system.reconcile_runs", title="Reconcile lost runs", connector="system", system=True,
     cron="* * * * *", description="Fail runs whose runner stopped heartbeating and free their locks.")
def reconcile_runs_job(ctx):
    failed = reconcile_runs()
    ctx.count(updated=len(failed))
    ctx.summary = f"Marked {len(failed)} lost runs failed" if failed else "No lost runs"
    for run_id in failed:
        ctx.log.warning("run=%s marked failed: runner lost", run_id)


def reconcile_runs(alive=()):
    """Fail lost runs and free their locks; fail queued runs that waited past their job's time limit.

    A run is lost when its heartbeat is older than the stale limit, or when its process is
    gone from this host and it has missed heartbeats (a pid alone could be another
    container's). `alive`: run ids the caller is executing right now.
    """
    now = utcnow()
    config = current_app.config
    stale_before = now - timedelta(seconds=config["LOCK_STALE_SECONDS"])
    missed_before = now - timedelta(seconds=3 * config["HEARTBEAT_SECONDS"])
    with db.engine.begin() as conn:
        lost = set(lock.release_stale(conn, now, stale_before, alive))
        runs = Run.__table__
        candidates = conn.execute(select(runs.c.id, runs.c.host, runs.c.pid, runs.c.heartbeat_at, runs.c.lock_key)
                                  .where(runs.c.status == "running")).all()
        for row in candidates:
            if row.id in alive:
                continue
            missed = row.heartbeat_at is None or row.heartbeat_at < missed_before
            dead_here = missed and row.host == socket.gethostname() and row.pid and not _pid_alive(row.pid)
            stale = row.heartbeat_at is None or row.heartbeat_at < stale_before
            if (dead_here or stale) and lock.mark_runner_lost(conn, row.id, now):
                lock.release(conn, row.lock_key, row.id)
                lost.add(row.id)
        _fail_long_lock_waits(conn, now)
    return sorted(lost)


def _fail_long_lock_waits(conn, now):
    """A queued run whose lock has been held longer than its own time limit gives up, saying by whom.

    Runs a claim has locked are left for the next pass: this transaction may already hold lock
    rows it freed, which that claim could be waiting for.
    """
    runs, locks = Run.__table__, RunLock.__table__
    waiting = conn.execute(with_row_locks(select(runs.c.id, runs.c.job_id, runs.c.queued_at, locks.c.run_id)
                                          .join(locks, locks.c.key == runs.c.lock_key)
                                          .where(runs.c.status == "queued", locks.c.run_id.is_not(None)),
                                          bind=conn, of=runs)).all()
    for run_id, job_id, queued_at, holder in waiting:
        job_def = _REGISTRY.get(job_id)
        if job_def and (now - queued_at).total_seconds() > job_def.timeout:
            conn.execute(update(runs).where(runs.c.id == run_id, runs.c.status == "queued")
                         .values(status="failed", reason=f"lock held by run {holder}", finished_at=now))


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@job("system.check_freshness", title="Check data freshness", connector="system", system=True,
     cron="*/10 * * * *", description="Notify when a connector's data is older than its stale limit.")
def check_freshness(ctx):
    from ..dashboard.freshness import stale_jobs
    from ..dashboard.notifications import notify_stale
    stale = stale_jobs()
    deliveries = 0
    for item in stale:
        ctx.log.warning("job=%s data is stale: last success %s, limit %s min",
                        item.job_id, item.last_success or "never", item.limit_minutes)
        deliveries += notify_stale(item)
    ctx.summary = f"{len(stale)} stale, {deliveries} notification(s) sent" if stale else "All data fresh"
