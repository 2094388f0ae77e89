"""Claims queued runs, holds their locks with a heartbeat, runs them in threads, records the outcome."""
import logging
import os
import socket
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import insert, select, update

from ..db import read_only, utcnow, with_row_locks
from ..extensions import db
from ..logging_setup import current_run_id
from . import lock
from .context import JobCancelled, JobTimedOut, RunContext, RunnerLost
from .models import Run, RunLog
from .registry import _REGISTRY

log = logging.getLogger(__name__)
runs = Run.__table__
run_logs = RunLog.__table__

CLAIM_BATCH = 20


def owner_name():
    return f"{socket.gethostname()}:{os.getpid()}"


class Executor:
    """A dispatcher thread, a pool of job threads and a heartbeat thread, in one process."""

    def __init__(self, app, only_run_id=None):
        cfg = app.config
        # `flask run-job --wait` executes only its own run, so exiting never strands another.
        self.only_run_id = only_run_id
        self.app = app
        self.threads = cfg["EXECUTOR_THREADS"]
        self.poll = cfg["EXECUTOR_POLL_SECONDS"]
        self.heartbeat_every = cfg["HEARTBEAT_SECONDS"]
        self.stale_after = timedelta(seconds=cfg["LOCK_STALE_SECONDS"])
        self.flush_every = min(0.5, self.heartbeat_every)
        self.owner = owner_name()
        self.active: dict[int, RunContext] = {}
        self._active_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="syncdeck-run")
        self._threads = []
        self.on_finish = []  # callbacks(app, run_id) after a run ends: dependencies, notifications

    # --- lifecycle --------------------------------------------------------
    def start(self):
        for target, name in ((self._dispatch_loop, "dispatch"), (self._heartbeat_loop, "heartbeat")):
            thread = threading.Thread(target=target, name=f"syncdeck-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, wait=True):
        """Stop claiming; running jobs are asked to stop at their next check (reason: shutdown)."""
        self._stop.set()
        self._wake.set()
        with self._active_lock:
            for ctx in self.active.values():
                ctx.cancelled_by = ctx.cancelled_by or "worker shutdown"
        for thread in self._threads:
            thread.join(timeout=5)
        self._pool.shutdown(wait=wait)

    def wake(self):
        self._wake.set()

    # --- dispatch ---------------------------------------------------------
    def _dispatch_loop(self):
        while not self._stop.is_set():
            try:
                claimed = self._free_slots() and self.claim_one()
            except Exception:  # a database hiccup must not kill the dispatcher
                log.exception("claim failed")
                claimed = None
            if claimed:
                self._pool.submit(self._execute_safely, claimed)
                continue
            self._wake.wait(self.poll)
            self._wake.clear()

    def _free_slots(self):
        with self._active_lock:
            return len(self.active) < self.threads

    def claim_one(self):
        """Claim the oldest queued run whose lock is free; return its row or None."""
        with self.app.app_context(), db.engine.begin() as conn:
            now = utcnow()
            query = with_row_locks(
                select(runs.c.id, runs.c.job_id, runs.c.lock_key, runs.c.params, runs.c.queued_at)
                .where(runs.c.status == "queued").order_by(runs.c.id).limit(CLAIM_BATCH),
                bind=conn,
            )
            if self.only_run_id is not None:
                query = query.where(runs.c.id == self.only_run_id)
            for row in conn.execute(query).all():
                if row.job_id not in _REGISTRY:
                    continue  # another process registers this job
                result = lock.acquire(conn, row.lock_key, row.id, self.owner, now, now - self.stale_after)
                if result.acquired:
                    self._mark_running(conn, row.id, now)
                    ctx = self._register(row)
                    if result.took_over_run_id:
                        ctx.log.warning("lock %s taken over from stale run %s (runner lost)",
                                        row.lock_key, result.took_over_run_id)
                    return row
                self._note_lock_wait(conn, row, result.holder_run_id, now)
        return None

    def _mark_running(self, conn, run_id, now):
        conn.execute(update(runs).where(runs.c.id == run_id).values(
            status="running", started_at=now, heartbeat_at=now,
            host=socket.gethostname(), pid=os.getpid()))

    def _note_lock_wait(self, conn, row, holder_run_id, now):
        job_def = _REGISTRY[row.job_id]
        waited = (now - row.queued_at).total_seconds()
        if waited > job_def.timeout:
            # The holder has had longer than this job's whole time limit: give up.
            conn.execute(update(runs).where(runs.c.id == row.id, runs.c.status == "queued").values(
                status="failed", reason=f"lock held by run {holder_run_id}", finished_at=now))
        else:
            conn.execute(update(runs).where(runs.c.id == row.id).values(lock_waits=runs.c.lock_waits + 1))

    def _register(self, row):
        job_def = _REGISTRY[row.job_id]
        ctx = RunContext(row.id, job_def, row.params or {}, job_def.timeout)
        ctx.lock_key = row.lock_key
        with self._active_lock:
            self.active[row.id] = ctx
        return ctx

    # --- execution --------------------------------------------------------
    def _execute_safely(self, row):
        try:
            self.execute(row)
        except Exception:
            log.exception("run=%s executor error", row.id)

    def execute(self, row):
        token = current_run_id.set(row.id)
        try:
            self._execute(row)
        finally:
            current_run_id.reset(token)

    def _execute(self, row):
        ctx = self.active[row.id]
        ctx.log.info("started job=%s params=%s", row.job_id, row.params or {})
        status, reason = "succeeded", ""
        with self.app.app_context():
            try:
                ctx.job.func(ctx)
                db.session.commit()
            except JobCancelled as exc:
                status, reason = "cancelled", str(exc)
            except JobTimedOut as exc:
                status, reason = "failed", str(exc)
            except RunnerLost as exc:
                status, reason = "failed", str(exc)
            except Exception as exc:  # the job's own failure: record it, keep the process alive
                status, reason = "failed", _describe(exc)
                ctx.log.error("%s", traceback.format_exc(limit=8))
            finally:
                db.session.rollback()  # an interrupted batch is never half-written
                db.session.remove()
            self._finish(ctx, status, reason)
        for callback in self.on_finish:
            try:
                callback(self.app, row.id)
            except Exception:
                log.exception("run=%s after-finish callback failed", row.id)

    def _finish(self, ctx, status, reason):
        elapsed = time.monotonic() - ctx.started_monotonic
        ctx.log.info("finished status=%s elapsed=%.2fs%s", status, elapsed, f" reason={reason}" if reason else "")
        with self._active_lock:
            self.active.pop(ctx.run_id, None)
        for attempt in range(5):
            try:
                with db.engine.begin() as conn:
                    self._flush(conn, ctx)
                    conn.execute(update(runs).where(runs.c.id == ctx.run_id, runs.c.status == "running").values(
                        status=status, reason=reason[:4000], summary=ctx.summary[:1000], finished_at=utcnow()))
                    lock.release(conn, ctx.lock_key, ctx.run_id)
                return
            except Exception:
                log.exception("run=%s could not record its outcome (attempt %s)", ctx.run_id, attempt + 1)
                time.sleep(0.5 * (attempt + 1))

    # --- heartbeat: logs, progress, lock, cancel flags --------------------
    def _heartbeat_loop(self):
        last_beat = 0.0
        while not self._stop.wait(self.flush_every):
            beat = time.monotonic() - last_beat >= self.heartbeat_every
            try:
                with self.app.app_context():
                    self.tick(beat)
                if beat:
                    last_beat = time.monotonic()
            except Exception:
                log.exception("heartbeat failed")

    def tick(self, beat=True):
        with self._active_lock:
            contexts = list(self.active.values())
        if not contexts:
            return
        # Read the flags first, in a read-only transaction: on SQLite the write below may
        # wait for a job's write lock, and Terminate must not wait with it.
        with db.engine.connect() as conn, read_only(conn).begin():
            self._read_cancel_flags(conn, contexts)
        with db.engine.begin() as conn:
            now = utcnow()
            for ctx in contexts:
                self._flush(conn, ctx, heartbeat_at=now if beat else None)
                if beat and not lock.heartbeat(conn, ctx.lock_key, ctx.run_id, now):
                    ctx.lost = True

    def _flush(self, conn, ctx, heartbeat_at=None):
        pending = ctx.take_pending()
        if pending is None and heartbeat_at is None:
            return
        logs, values = pending or ([], {})
        try:
            if logs:
                conn.execute(insert(run_logs), logs)
            if heartbeat_at is not None:
                values["heartbeat_at"] = heartbeat_at
            conn.execute(update(runs).where(runs.c.id == ctx.run_id).values(**values))
        except Exception:
            ctx.put_back(logs)
            raise

    def _read_cancel_flags(self, conn, contexts):
        ids = [ctx.run_id for ctx in contexts]
        rows = conn.execute(select(runs.c.id, runs.c.cancel_requested_by, runs.c.status).where(runs.c.id.in_(ids)))
        by_id = {ctx.run_id: ctx for ctx in contexts}
        for run_id, cancelled_by, status in rows:
            if cancelled_by:
                by_id[run_id].cancelled_by = cancelled_by
            if status != "running":  # e.g. marked "runner lost" by a takeover
                by_id[run_id].lost = True


def _describe(exc):
    message = str(exc).strip() or type(exc).__name__
    return message if type(exc).__name__ in message else f"{type(exc).__name__}: {message}"
