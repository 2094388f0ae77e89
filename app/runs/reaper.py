"""The reaper: fail runs whose runner is gone, free their locks, give up lock waits past a job's limit.

Every executor runs it every few seconds, and the system.reconcile_runs job every minute.
"""
import os
import socket
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from ..db import utcnow, with_row_locks
from ..extensions import db
from . import lock
from .models import Run, RunLock
from .registry import find_job


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
        job_def = find_job(job_id)
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
