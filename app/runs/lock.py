"""The DB-row lock per lock key: atomic conditional UPDATEs, a heartbeat, stale takeover."""
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import and_, or_, select, update

from ..db import insert_ignore
from .models import Run, RunLock

locks = RunLock.__table__
runs = Run.__table__


@dataclass
class LockResult:
    acquired: bool
    holder_run_id: Optional[int] = None
    took_over_run_id: Optional[int] = None


def acquire(conn, key, run_id, owner, now, stale_before) -> LockResult:
    """Take the lock for run_id if free or stale; a stale holder's run is marked failed."""
    conn.execute(insert_ignore(locks, conn).values(key=key))
    holder = conn.execute(select(locks.c.run_id, locks.c.heartbeat_at).where(locks.c.key == key)).one()
    claimed = conn.execute(
        update(locks)
        .where(locks.c.key == key)
        .where(or_(locks.c.run_id.is_(None), locks.c.heartbeat_at < stale_before))
        .values(run_id=run_id, owner=owner, acquired_at=now, heartbeat_at=now)
    ).rowcount
    if not claimed:
        return LockResult(False, holder_run_id=holder.run_id)
    took_over = holder.run_id if holder.run_id not in (None, run_id) else None
    if took_over:
        mark_runner_lost(conn, took_over, now)
    return LockResult(True, took_over_run_id=took_over)


def mark_runner_lost(conn, run_id, now):
    """Fail a run whose runner stopped heartbeating (if it is still marked running)."""
    return conn.execute(
        update(runs)
        .where(and_(runs.c.id == run_id, runs.c.status == "running"))
        .values(status="failed", reason="runner lost", finished_at=now)
    ).rowcount


def heartbeat(conn, key, run_id, now) -> bool:
    """Refresh the lock's heartbeat; False means the lock was taken over."""
    return bool(conn.execute(
        update(locks).where(and_(locks.c.key == key, locks.c.run_id == run_id)).values(heartbeat_at=now)
    ).rowcount)


def release(conn, key, run_id):
    conn.execute(
        update(locks).where(and_(locks.c.key == key, locks.c.run_id == run_id))
        .values(run_id=None, owner="", heartbeat_at=None)
    )


def release_stale(conn, now, stale_before):
    """Free every stale lock and fail its run: what `flask runs reconcile` does."""
    stale = conn.execute(
        select(locks.c.key, locks.c.run_id)
        .where(and_(locks.c.run_id.is_not(None), locks.c.heartbeat_at < stale_before))
    ).all()
    for key, run_id in stale:
        released = conn.execute(
            update(locks).where(and_(locks.c.key == key, locks.c.run_id == run_id,
                                     locks.c.heartbeat_at < stale_before))
            .values(run_id=None, owner="", heartbeat_at=None)
        ).rowcount
        if released:
            mark_runner_lost(conn, run_id, now)
    return [run_id for _, run_id in stale]
