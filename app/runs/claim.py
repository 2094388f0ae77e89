"""Claim the oldest queued run whose lock is free: one statement on PostgreSQL, a short loop elsewhere.

Stale locks are not taken over here: every executor's reaper frees them and fails
their runs ("runner lost"), so a claim only ever takes a free lock.
"""
import os
import socket
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, or_, select, text, update

from ..db import utcnow, with_row_locks
from . import lock
from .models import Run, RunLock

runs = Run.__table__
locks = RunLock.__table__
CANDIDATES = 20


@dataclass
class Claimed:
    id: int
    job_id: str
    lock_key: str
    params: dict


def claim(conn, job_ids, owner, limit=1, only_run_id=None):
    """Mark up to `limit` claimable runs (one per lock key) running under their locks; return them."""
    if not job_ids or limit < 1:
        return []
    if conn.dialect.name == "postgresql":
        return _claim_postgresql(conn, list(job_ids), owner, limit, only_run_id)
    claimed = []
    while len(claimed) < limit:
        run = _claim_generic(conn, list(job_ids), owner, only_run_id)
        if run is None:
            break
        claimed.append(run)
    return claimed


_PG_CLAIM = text("""
WITH candidate AS (
    SELECT r.id, r.lock_key
    FROM runs r LEFT JOIN run_locks l ON l.key = r.lock_key
    WHERE r.status = 'queued' AND r.job_id = ANY(:job_ids) AND l.run_id IS NULL
      AND (CAST(:only_id AS BIGINT) IS NULL OR r.id = :only_id)
    ORDER BY r.id
    LIMIT :limit
    FOR UPDATE OF r SKIP LOCKED
), taken AS (
    INSERT INTO run_locks (key, run_id, owner, acquired_at, heartbeat_at)
    -- one run per lock key: the oldest of the candidates sharing it
    SELECT DISTINCT ON (lock_key) lock_key, id, :owner,
           clock_timestamp() AT TIME ZONE 'UTC', clock_timestamp() AT TIME ZONE 'UTC'
    FROM candidate ORDER BY lock_key, id
    ON CONFLICT (key) DO UPDATE
        SET run_id = EXCLUDED.run_id, owner = EXCLUDED.owner,
            acquired_at = EXCLUDED.acquired_at, heartbeat_at = EXCLUDED.heartbeat_at
        WHERE run_locks.run_id IS NULL
    RETURNING run_id
)
UPDATE runs SET status = 'running', host = :host, pid = :pid,
    -- stamped once the lock is ours, after any wait for the previous holder's release
    started_at = clock_timestamp() AT TIME ZONE 'UTC', heartbeat_at = clock_timestamp() AT TIME ZONE 'UTC'
FROM taken WHERE runs.id = taken.run_id
RETURNING runs.id, runs.job_id, runs.lock_key, runs.params
""").bindparams(bindparam("job_ids"))


def _claim_postgresql(conn, job_ids, owner, limit, only_run_id):
    rows = conn.execute(_PG_CLAIM, {"job_ids": job_ids, "owner": owner, "host": socket.gethostname(),
                                    "pid": os.getpid(), "only_id": only_run_id, "limit": limit}).all()
    return sorted((Claimed(r.id, r.job_id, r.lock_key, r.params or {}) for r in rows), key=lambda c: c.id)


def _claim_generic(conn, job_ids, owner, only_run_id):
    free = or_(locks.c.run_id.is_(None), locks.c.key.is_(None))
    query = (select(runs.c.id, runs.c.job_id, runs.c.lock_key, runs.c.params)
             .select_from(runs.outerjoin(locks, locks.c.key == runs.c.lock_key))
             .where(runs.c.status == "queued", runs.c.job_id.in_(job_ids), free)
             .order_by(runs.c.id).limit(CANDIDATES))
    if only_run_id is not None:
        query = query.where(runs.c.id == only_run_id)
    for row in conn.execute(with_row_locks(query, bind=conn)).all():
        if lock.acquire(conn, row.lock_key, row.id, owner):
            now = utcnow()
            conn.execute(update(runs).where(runs.c.id == row.id).values(
                status="running", started_at=now, heartbeat_at=now, host=socket.gethostname(), pid=os.getpid()))
            return Claimed(row.id, row.job_id, row.lock_key, row.params or {})
    return None


def note_lock_waits(conn):
    """Count each queued run once when it is first seen waiting for a held lock (the lock-wait metric).

    Runs another executor's claim has locked are skipped (a later poll counts them): this
    runs in the transaction of our own claim, which may hold the lock row that claim
    needs next, so waiting for them would deadlock.
    """
    held = select(locks.c.key).where(locks.c.run_id.is_not(None))
    waiting = select(runs.c.id).where(and_(runs.c.status == "queued", runs.c.lock_waits == 0,
                                           runs.c.lock_key.in_(held)))
    conn.execute(update(runs).where(runs.c.id.in_(with_row_locks(waiting, bind=conn))).values(lock_waits=1))
