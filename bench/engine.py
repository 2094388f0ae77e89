"""Runs-engine benchmark on PostgreSQL: fire-to-start latency, and no-op runs/s against an in-run floor.

    .venv/bin/python bench/engine.py

BENCH_DATABASE_URL (default below) names the database; its public schema is dropped and rebuilt
through the Alembic migrations, so never point it at data you want to keep.
Imported as `bench.engine` (EXTRA_JOB_MODULES) it only registers the bench jobs.
"""
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from app.runs.registry import Param, job  # noqa: E402
from bench.harness import rebuild_schema  # noqa: E402

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/syncdeck_c"
LOCKS = 4  # one bench job per lock key, so 4 threads have 4 runs they may execute at once
LATENCY_FIRES = 200
LATENCY_TARGET_S = 1.0
THROUGHPUT_TARGET = 0.25
FLOOR_N = 2000


def _noop(ctx):
    """Does nothing: what is measured is the engine's own cost per run."""


for _k in range(LOCKS):
    job(f"bench.noop{_k}", title=f"Bench no-op {_k}", connector="bench", params=(Param("i", "int"),))(_noop)


# --- setup ------------------------------------------------------------------------------------

def truncate(app):
    from sqlalchemy import text

    from app.extensions import db
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("TRUNCATE runs, run_logs, run_locks, schedule_fires, schedules, worker_processes "
                          "RESTART IDENTITY CASCADE"))


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


# --- 1. fire-to-start latency -------------------------------------------------------------------

def worker_env(url, **extra):
    """A worker with the production defaults of config.py, except what the bench needs."""
    drop = ("SCHEDULER_ENABLED", "EXECUTOR_ENABLED", "EXECUTOR_THREADS", "EXECUTOR_POLL_SECONDS",
            "HEARTBEAT_SECONDS", "LOCK_STALE_SECONDS", "SCHEDULER_RECONCILE_SECONDS", "FLASK_APP")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(DATABASE_URL=url, EXTRA_JOB_MODULES="bench.engine", SYNCDECK_NO_ENGINE="1", **extra)
    return env


def fire_latency(app, url, fires=LATENCY_FIRES):
    """One scheduler+executor process, LOCKS every-second schedules: run.started_at - fire_time."""
    from sqlalchemy import text

    from app.extensions import db
    from app.runs.models import Schedule

    truncate(app)
    with app.app_context():
        schedules = [Schedule(job_id=f"bench.noop{k}", name=f"bench {k}", cron="* * * * * *", timezone="UTC",
                              enabled=True, system=False, params={"i": 0}) for k in range(LOCKS)]
        db.session.add_all(schedules)
        db.session.commit()
        ids = [s.id for s in schedules]
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT,
                              env=worker_env(url, EXECUTOR_THREADS=str(LOCKS)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    warmup = LOCKS  # the first second's fires include the process's start-up
    sql = text("SELECT f.fire_time, r.started_at FROM schedule_fires f JOIN runs r ON r.id = f.run_id "
               "WHERE f.schedule_id = ANY(:ids) AND r.started_at IS NOT NULL ORDER BY f.fire_time, f.schedule_id")
    deadline = time.monotonic() + fires / LOCKS + 60
    rows = []
    try:
        while len(rows) < fires + warmup and time.monotonic() < deadline:
            time.sleep(1)
            assert worker.poll() is None, "the bench worker exited"
            with app.app_context(), db.engine.connect() as conn:
                rows = conn.execute(sql, {"ids": ids}).all()
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)
    with app.app_context(), db.engine.connect() as conn:
        shared = conn.execute(text("SELECT count(*) - count(DISTINCT run_id) FROM schedule_fires "
                                   "WHERE schedule_id = ANY(:ids)"), {"ids": ids}).scalar()
    latencies = [(started - fired).total_seconds() for fired, started in rows[warmup:warmup + fires]]
    assert len(latencies) == fires, f"only {len(latencies)} fires started in time"
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    print(f"fire-to-start latency over {fires} fires ({LOCKS} every-second schedules, 1 scheduler+executor "
          f"process, production poll/heartbeat defaults):")
    print(f"  p50 {p50 * 1000:.1f} ms   p95 {p95 * 1000:.1f} ms   max {max(latencies) * 1000:.1f} ms   "
          f"fires joined to an in-flight run: {shared}")
    verdict = "met" if p95 < LATENCY_TARGET_S else "MISSED"
    print(f"  p95 / target {LATENCY_TARGET_S:g} s = {p95 / LATENCY_TARGET_S:.3f}  (target < 1: {verdict})")


# --- 2. no-op runs per second against single-row UPDATE commits --------------------------------

def update_floor(app, n=FLOOR_N):
    """Single-row UPDATEs, each in its own commit, through psycopg2: the cheapest durable write."""
    from app.extensions import db
    with app.app_context():
        raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("DROP TABLE IF EXISTS bench_counter")
        cur.execute("CREATE TABLE bench_counter (id int PRIMARY KEY, n int NOT NULL)")
        cur.execute("INSERT INTO bench_counter VALUES (1, 0)")
        raw.commit()
        started = time.perf_counter()
        for _ in range(n):
            cur.execute("UPDATE bench_counter SET n = n + 1 WHERE id = 1")
            raw.commit()
        elapsed = time.perf_counter() - started
        cur.execute("DROP TABLE bench_counter")
        raw.commit()
    finally:
        raw.close()
    return n / elapsed


def queue_noops(app, n, locks):
    from sqlalchemy import insert

    from app.db import utcnow
    from app.extensions import db
    from app.runs.models import Run
    from app.runs.service import params_key

    now = utcnow()
    rows = [{"job_id": f"bench.noop{i % LOCKS}", "lock_key": f"bench.lock{i % locks}", "params": {"i": i},
             "params_key": params_key({"i": i}), "trigger": "cli", "requested_by": "bench",
             "status": "queued", "queued_at": now} for i in range(n)]
    with app.app_context():
        db.session.execute(insert(Run), rows)
        db.session.commit()


class Tally:
    """Statements, commits and seconds per phase (claim attempts, finish, after-run hooks) of one variant."""

    def __init__(self, engine):
        from sqlalchemy import event
        self.engine, self.event = engine, event
        self.statements = self.commits = 0
        self.seconds = {"dispatch": 0.0, "hooks": 0.0}
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    # The bench's own progress polling runs in the main thread: not the engine's cost.
    def _statement(self, *_):
        if threading.current_thread() is not threading.main_thread():
            self.statements += 1

    def _commit(self, *_):
        if threading.current_thread() is not threading.main_thread():
            self.commits += 1

    def timed(self, phase, func):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - started
        return wrapper

    def close(self):
        self.event.remove(self.engine, "before_cursor_execute", self._statement)
        self.event.remove(self.engine, "commit", self._commit)


def engine_rate(app, n, threads, locks, poll):
    """Queue n no-op runs over `locks` lock keys, execute them in this process; return (runs/s, tally)."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.runs.executor import Executor
    from app.runs.hooks import after_run_finished
    from app.runs.models import TERMINAL, Run

    truncate(app)
    queue_noops(app, n, locks)
    app.config.update(EXECUTOR_THREADS=threads, EXECUTOR_POLL_SECONDS=poll, HEARTBEAT_SECONDS=2,
                      LOCK_STALE_SECONDS=60)
    executor = Executor(app)
    with app.app_context():
        tally = Tally(db.engine)
    executor.dispatch_once = tally.timed("dispatch", executor.dispatch_once)
    executor.on_finish.append(tally.timed("hooks", after_run_finished))  # as start_engine wires it
    done = select(func.count()).select_from(Run).where(Run.status.in_(TERMINAL))
    deadline = time.monotonic() + 120
    started = time.perf_counter()
    executor.start()
    try:
        with app.app_context():
            while db.session.scalar(done) < n:
                db.session.rollback()
                assert time.monotonic() < deadline, "runs did not finish within 120 s"
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            statuses = dict(db.session.execute(select(Run.status, func.count()).group_by(Run.status)).all())
            db.session.remove()
    finally:
        executor.stop()
        tally.close()
    assert statuses == {"succeeded": n}, statuses
    return n / elapsed, tally


VARIANTS = [  # (label, n, threads, locks, poll) -- default poll: a finished run wakes the dispatcher
    ("1 thread, 1 lock key", 1000, 1, 1, 0.5),
    ("4 threads, 4 lock keys", 2000, 4, 4, 0.5),
    ("4 threads, 2000 lock keys", 2000, 4, 2000, 0.5),
]


def throughput(app):
    """Each variant between two floor measurements: the ratio uses their mean (the machine is shared)."""
    print("\nno-op runs/s (claim + lock + execute + release + after-run hooks, in-process executor)")
    print(f"floor: {FLOOR_N} single-row UPDATEs, one commit each (psycopg2), measured before and after each variant")
    print(f"  {'variant':<28} {'N':>5} {'runs/s':>7} {'floor/s':>8} {'ratio':>6} {'target':>6}   "
          f"per run: statements commits | ms dispatch hooks")
    for label, n, threads, locks, poll in VARIANTS:
        before = update_floor(app)
        rate, tally = engine_rate(app, n, threads, locks, poll)
        floor = (before + update_floor(app)) / 2
        ratio = rate / floor
        verdict = "met" if ratio >= THROUGHPUT_TARGET else "MISSED"
        ms = {k: v / n * 1000 for k, v in tally.seconds.items()}
        print(f"  {label:<28} {n:>5} {rate:>7.1f} {floor:>8.0f} {ratio:>6.1%} {verdict:>6}   "
              f"{tally.statements / n:>18.1f} {tally.commits / n:>7.1f} | {ms['dispatch']:>8.1f} {ms['hooks']:>5.1f}")
    print(f"  target: ratio >= {THROUGHPUT_TARGET:.0%} (the default configuration is 4 executor threads)")


def main():
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    print(f"syncdeck runs-engine bench  {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  "
          f"db={url.rsplit('/', 1)[-1]}  cpus={os.cpu_count()}")
    app = rebuild_schema(url)
    fire_latency(app, url)
    throughput(app)


if __name__ == "__main__":
    main()
