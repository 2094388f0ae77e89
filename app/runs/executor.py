"""Claims queued runs, holds their locks with a heartbeat, runs them in threads, records the outcome."""
import logging
import os
import socket
import threading
import time
import traceback
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import bindparam, insert, select, update

from ..db import read_only, utcnow
from ..extensions import db
from ..logging_setup import current_run_id
from . import lock
from .claim import claim, note_lock_waits
from .context import JobCancelled, JobTimedOut, RunContext, RunnerLost
from .models import Run, RunLog
from .reaper import reconcile_runs
from .registry import find_job, job_ids

log = logging.getLogger(__name__)
runs = Run.__table__
run_logs = RunLog.__table__


def owner_name():
    return f"{socket.gethostname()}:{os.getpid()}"


class Executor:
    """A dispatcher thread, a pool of job threads and a heartbeat thread, in one process."""

    def __init__(self, app, only_run_id=None):
        cfg = app.config
        self.app = app
        # `flask run-job --wait` executes only its own run, so exiting never strands another.
        self.only_run_id = only_run_id
        self.threads = cfg["EXECUTOR_THREADS"]
        self.poll = cfg["EXECUTOR_POLL_SECONDS"]
        self.heartbeat_every = cfg["HEARTBEAT_SECONDS"]
        self.stale_after = timedelta(seconds=cfg["LOCK_STALE_SECONDS"])
        self.flush_every = min(0.5, self.heartbeat_every)
        self.reap_every = max(self.heartbeat_every, cfg["LOCK_STALE_SECONDS"] / 2)
        self.owner = owner_name()
        self.active: dict[int, RunContext] = {}
        self._active_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="syncdeck-run")
        # After-run hooks (dependents, notifications) wait on the network at times: their own thread.
        self._after_pool = ThreadPoolExecutor(1, thread_name_prefix="syncdeck-after")
        self._finished = deque()  # contexts whose job ended, waiting for the dispatcher to record them
        self._threads = []
        self.on_finish = []  # callbacks(app, run_id, job_id, status) after a run ends

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
        if self._finished:  # jobs that stopped after the dispatcher did: record them now
            try:
                self.dispatch_once(claim_new=False)
            except Exception:
                log.exception("could not record the last outcomes; the reaper will fail them")
        self._after_pool.shutdown(wait=wait)

    def wake(self):
        self._wake.set()

    # --- dispatch: record what finished and claim what is next, in one transaction ----
    def _dispatch_loop(self):
        failures = 0
        while not self._stop.is_set():
            try:
                busy = self.dispatch_once()
                failures = 0
            except Exception:  # a database hiccup must not kill the dispatcher
                failures += 1
                log.exception("dispatch failed (attempt %s)", failures)
                busy = False
                self._stop.wait(min(0.5 * failures, 5))
            if not busy:
                self._wake.wait(self.poll)
                self._wake.clear()

    def dispatch_once(self, claim_new=True):
        """Record finished runs, free their locks and claim free slots' worth of runs; one commit."""
        finished = self._take_finished()
        with self._active_lock:
            slots = (self.threads - len(self.active) + len(finished)) if claim_new else 0
        if not finished and not slots:
            return False  # every thread busy and nothing to record: no transaction at all
        try:
            with self.app.app_context(), db.engine.begin() as conn:
                self._record_outcomes(conn, finished)
                claimed = claim(conn, job_ids(), self.owner, slots, self.only_run_id)
                if len(claimed) < slots and not finished:
                    note_lock_waits(conn)  # a poll found runs it could not start
        except Exception:
            self._finished.extend(finished)  # recorded on the next pass
            raise
        self._after_commit(finished, claimed)
        return bool(finished or claimed)

    def _take_finished(self):
        taken = []
        while self._finished:
            taken.append(self._finished.popleft())
        return taken

    def _after_commit(self, finished, claimed):
        with self._active_lock:
            for ctx in finished:
                self.active.pop(ctx.run_id, None)
        for ctx in finished:
            self._after_pool.submit(self._run_callbacks, ctx.run_id, ctx.job_id, ctx.outcome["status"])
        for run in claimed:
            self._register(run)
            self._pool.submit(self._execute_safely, run)

    def _register(self, claimed):
        job_def = find_job(claimed.job_id)
        ctx = RunContext(claimed.id, job_def, claimed.params, job_def.timeout, claimed.lock_key)
        with self._active_lock:
            self.active[claimed.id] = ctx
        return ctx

    # --- execution --------------------------------------------------------
    def _execute_safely(self, claimed):
        ctx = self.active[claimed.id]
        token = current_run_id.set(claimed.id)
        try:
            status, reason = self._execute(ctx)
        except Exception as exc:
            log.exception("run=%s executor error", claimed.id)
            status, reason = "failed", f"executor error: {_describe(exc)}"
        finally:
            current_run_id.reset(token)
        elapsed = time.monotonic() - ctx.started_monotonic
        ctx.log.info("finished status=%s elapsed=%.2fs%s", status, elapsed, f" reason={reason}" if reason else "")
        ctx.outcome = {"status": status, "reason": reason[:4000], "summary": ctx.summary[:1000]}
        self._finished.append(ctx)
        self._wake.set()  # the dispatcher records it and claims the next run at once

    def _execute(self, ctx):
        ctx.log.info("started job=%s params=%s", ctx.job_id, ctx.params)
        with self.app.app_context():
            try:
                ctx.job.func(ctx)
                db.session.commit()
                return "succeeded", ""
            except (JobCancelled, JobTimedOut, RunnerLost) as exc:
                return ("cancelled" if isinstance(exc, JobCancelled) else "failed"), str(exc)
            except Exception as exc:  # the job's own failure: record it, keep the process alive
                ctx.log.error("%s", traceback.format_exc(limit=8))
                return "failed", _describe(exc)
            finally:
                db.session.rollback()  # an interrupted batch is never half-written
                db.session.remove()

    def _record_outcomes(self, conn, finished):
        """Outcomes, last log lines and counters, and lock releases: one statement per table."""
        if not finished:
            return
        logs, rows, now = [], [], utcnow()
        for ctx in finished:
            pending_logs, values = ctx.take_pending() or ([], ctx.last_values)
            logs += pending_logs
            rows.append({"b_id": ctx.run_id, "b_lock": ctx.lock_key, "finished_at": now, **ctx.outcome, **values})
        if logs:
            conn.execute(insert(run_logs), logs)
        # A run already failed as lost by a reaper keeps that outcome.
        conn.execute(update(runs).where(runs.c.id == bindparam("b_id"), runs.c.status == "running")
                     .values({k: bindparam(k) for k in rows[0] if not k.startswith("b_")}), rows)
        lock.release_many(conn, [(ctx.lock_key, ctx.run_id) for ctx in finished])

    def _run_callbacks(self, run_id, job_id, status):
        for callback in self.on_finish:
            try:
                callback(self.app, run_id, job_id, status)
            except Exception:
                log.exception("run=%s after-finish callback failed", run_id)

    # --- heartbeat: logs, progress, lock, cancel flags, reaping ------------
    def _heartbeat_loop(self):
        last_beat = last_reap = 0.0
        while not self._stop.wait(self.flush_every):
            beat = time.monotonic() - last_beat >= self.heartbeat_every
            try:
                with self.app.app_context():
                    self.tick(beat)
                    if time.monotonic() - last_reap >= self.reap_every:
                        last_reap = time.monotonic()
                        self.reap()
                if beat:
                    last_beat = time.monotonic()
            except Exception:
                log.exception("heartbeat failed")

    def reap(self):
        """Fail runs whose runner is gone and free their locks, even if nothing waits for them."""
        with self._active_lock:
            alive = set(self.active)
        lost = reconcile_runs(alive)
        if lost:
            log.warning("runs=%s marked failed: runner lost", ",".join(map(str, lost)))
            self._wake.set()

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

    def _flush(self, conn, ctx, heartbeat_at=None, outcome=None):
        pending = ctx.take_pending()
        if pending is None and heartbeat_at is None and outcome is None:
            return
        logs, values = pending or ([], {})
        try:
            if logs:
                conn.execute(insert(run_logs), logs)
            if heartbeat_at is not None:
                values["heartbeat_at"] = heartbeat_at
            query = update(runs).where(runs.c.id == ctx.run_id)
            if outcome is not None:  # a run already failed as lost keeps that outcome
                query, values = query.where(runs.c.status == "running"), {**values, **outcome}
            conn.execute(query.values(**values))
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
            if status != "running":  # e.g. marked "runner lost" by a reaper elsewhere
                by_id[run_id].lost = True


def _describe(exc):
    message = str(exc).strip() or type(exc).__name__
    return message if type(exc).__name__ in message else f"{type(exc).__name__}: {message}"
