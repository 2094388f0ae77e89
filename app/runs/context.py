"""What a job sees while it runs: log, progress, counters, cancellation, params."""
import logging
import threading
import time

from ..db import utcnow
from .registry import STANDARD_COUNTERS

stderr_log = logging.getLogger("syncdeck.run")


class JobCancelled(Exception):
    """Raised by check_cancelled() when someone pressed Terminate."""


class JobTimedOut(Exception):
    """Raised by check_cancelled() when the job ran past its timeout."""


class RunnerLost(Exception):
    """Raised when another process took this run's lock over (our heartbeat went stale)."""


class RunLogger:
    """A logger whose lines are stored against the run (and echoed to stderr with the run id)."""

    def __init__(self, ctx):
        self._ctx = ctx

    def _emit(self, level, message, *args):
        text = message % args if args else str(message)
        self._ctx._append_log(level, text)
        stderr_log.log(getattr(logging, level), "job=%s %s", self._ctx.job_id, text,
                       extra={"run_id": self._ctx.run_id})

    def debug(self, message, *args):
        self._emit("DEBUG", message, *args)

    def info(self, message, *args):
        self._emit("INFO", message, *args)

    def warning(self, message, *args):
        self._emit("WARNING", message, *args)

    def error(self, message, *args):
        self._emit("ERROR", message, *args)


class RunContext:
    """Handed to every job function; everything it records is buffered and flushed by the executor."""

    def __init__(self, run_id, job_def, params, timeout, lock_key=None):
        self.run_id = run_id
        self.lock_key = lock_key or job_def.lock_key
        self.job_id = job_def.id
        self.job = job_def
        self.params = params
        self.log = RunLogger(self)
        self.summary = ""
        self.counters = dict.fromkeys(STANDARD_COUNTERS + job_def.counters, 0)
        self.started_monotonic = time.monotonic()
        self.deadline = self.started_monotonic + timeout if timeout else None
        self.timeout = timeout
        self.cancelled_by = None
        self.lost = False
        self._lock = threading.Lock()
        self._logs = []
        self._seq = 0
        self._progress = (0, None, "")
        self._dirty = True

    # --- what jobs call -------------------------------------------------
    def progress(self, done, total=None, message="", check=True):
        """Record progress (done of total) and check for cancellation (unless check=False: the job is
        already stopping, e.g. undoing what it did after Terminate, and must be let finish that)."""
        with self._lock:
            self._progress = (int(done), None if total is None else int(total), message or "")
            self._dirty = True
        if check:
            self.check_cancelled()

    def count(self, **deltas):
        """Add to the row counters (standard or declared by the job): count(fetched=100, pushed=90)."""
        with self._lock:
            for name, delta in deltas.items():
                if name not in self.counters:
                    raise KeyError(f"unknown counter {name!r}; declare it: @job(..., counters=({name!r},))")
                self.counters[name] += int(delta)
            self._dirty = True

    def check_cancelled(self):
        """Raise if the run must stop: terminated, timed out, or its lock taken over."""
        if self.lost:
            raise RunnerLost("runner lost: lock taken over by another process")
        if self.cancelled_by:
            raise JobCancelled(f"cancelled by {self.cancelled_by}")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise JobTimedOut(f"timed out after {self.timeout:g} s")

    # --- what the executor calls -------------------------------------------
    def _append_log(self, level, message):
        with self._lock:
            self._seq += 1
            self._logs.append({"run_id": self.run_id, "seq": self._seq, "at": utcnow(),
                               "level": level, "message": message[:10000]})
            self._dirty = True

    def take_pending(self):
        """Return (log rows, run values) not yet written, or None if nothing changed."""
        with self._lock:
            if not self._dirty:
                return None
            logs, self._logs = self._logs, []
            self._dirty = False
            return logs, self._values()

    @property
    def last_values(self):
        """Progress and counters as they stand (for the final record when nothing changed)."""
        with self._lock:
            return self._values()

    def _values(self):
        done, total, message = self._progress
        declared = {k: v for k, v in self.counters.items() if k not in STANDARD_COUNTERS}
        return {"progress_done": done, "progress_total": total, "progress_message": message[:1000],
                "counters": declared, **{f"rows_{k}": self.counters[k] for k in STANDARD_COUNTERS}}

    def put_back(self, logs):
        """Return unwritten log rows to the front of the buffer after a failed flush."""
        with self._lock:
            self._logs = logs + self._logs
            self._dirty = True
