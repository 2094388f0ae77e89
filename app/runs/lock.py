"""The DB-row lock per lock key: taken by an atomic conditional UPDATE, kept by a heartbeat,
freed by its holder, or by any executor's reaper once the heartbeat is stale."""
from sqlalchemy import and_, bindparam, select, update

from ..db import insert_ignore, utcnow
from .models import Run, RunLock

locks = RunLock.__table__
runs = Run.__table__


def acquire(conn, key, run_id, owner) -> bool:
    """Take the lock for run_id if nobody holds it."""
    exists = conn.execute(select(locks.c.key).where(locks.c.key == key)).first()
    if exists is None:  # only the first use of a key inserts (an insert would wait on a busy row)
        conn.execute(insert_ignore(locks, conn).values(key=key))
    now = utcnow()
    return bool(conn.execute(
        update(locks).where(and_(locks.c.key == key, locks.c.run_id.is_(None)))
        .values(run_id=run_id, owner=owner, acquired_at=now, heartbeat_at=now)
    ).rowcount)


def mark_runner_lost(conn, run_id, now):
    """Fail a run whose runner stopped heartbeating (if it is still marked running)."""
    return conn.execute(
        update(runs)
        .where(and_(runs.c.id == run_id, runs.c.status == "running"))
        .values(status="failed", reason="runner lost", finished_at=now)
    ).rowcount


def heartbeat(conn, key, run_id, now) -> bool:
    """Refresh the lock's heartbeat; False means the lock was taken from us."""
    return bool(conn.execute(
        update(locks).where(and_(locks.c.key == key, locks.c.run_id == run_id)).values(heartbeat_at=now)
    ).rowcount)


def release(conn, key, run_id):
    """Free the lock if run_id still holds it."""
    release_many(conn, [(key, run_id)])


def release_many(conn, held):
    """Free each (key, run_id) lock its run still holds: one executemany statement."""
    if held:
        conn.execute(update(locks).where(locks.c.key == bindparam("b_key"), locks.c.run_id == bindparam("b_run"))
                     .values(run_id=None, owner="", heartbeat_at=None),
                     [{"b_key": key, "b_run": run_id} for key, run_id in held])


def release_stale(conn, now, stale_before, alive=()):
    """Free every stale lock and fail its run; `alive` are run ids the caller is executing right now."""
    stale = conn.execute(
        select(locks.c.key, locks.c.run_id)
        .where(and_(locks.c.run_id.is_not(None), locks.c.heartbeat_at < stale_before))
    ).all()
    freed = []
    for key, run_id in stale:
        if run_id in alive:
            continue
        released = conn.execute(
            update(locks).where(and_(locks.c.key == key, locks.c.run_id == run_id,
                                     locks.c.heartbeat_at < stale_before))
            .values(run_id=None, owner="", heartbeat_at=None)
        ).rowcount
        if released:
            mark_runner_lost(conn, run_id, now)
            freed.append(run_id)
    return freed
