"""What every benchmark needs from the app: an engine-less app on a bench database, its schema rebuilt
through the migrations, one job run to its end as `flask run-job --wait` would with a worker, and the
fake UISP as a process of its own."""
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[1]


def bench_app(url, **config):
    """The Flask app on `url` with its scheduler and executor off; `config` overrides settings (e.g. UISP_BASE_URL)."""
    from app import create_app
    from config import Config
    overrides = {"SQLALCHEMY_DATABASE_URI": url, "SCHEDULER_ENABLED": False, "EXECUTOR_ENABLED": False,
                 "EXTRA_JOB_MODULES": [], **config}
    return create_app(type("BenchConfig", (Config,), overrides))


def ensure_database(url):
    """CREATE DATABASE when missing (through the server's `postgres` database)."""
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def rebuild_schema(url, **config):
    """Drop everything at `url` and build the schema through the migrations (as tests/conftest.py does)."""
    from flask_migrate import upgrade
    if url.startswith("postgresql"):
        ensure_database(url)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    elif url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    app = bench_app(url, **config)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    return app


def peak_rss_mb():
    """This process's peak resident set since it started its program, in MB.

    Not getrusage's ru_maxrss: Linux carries that high-water mark across fork and exec, so a
    variant's child would report its parent's peak (the bench process that seeded the source)
    whenever that is the larger. VmHWM belongs to the address space exec made.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_job(app, job_id, params=None):
    """Queue job_id, execute it with an in-process Executor, and return the finished run (any status)."""
    from app.extensions import db
    from app.runs.cli import _poll_until_done
    from app.runs.executor import Executor
    from app.runs.service import enqueue
    with app.app_context():
        run, _ = enqueue(job_id, params or {}, trigger="cli", requested_by="bench")
        db.session.commit()
        executor = Executor(app, only_run_id=run.id)
        executor.start()
        try:
            return _poll_until_done(run.id, None)  # it ends each poll's transaction (SQLite's write lock)
        finally:
            executor.stop()


def run_to_end(app, job_id, params=None):
    """run_job, which must succeed."""
    run = run_job(app, job_id, params)
    assert run.status == "succeeded", f"run {run.id} {run.status}: {run.reason}"
    return run


@contextmanager
def fake_uisp_process(clients, app_key):
    """`python -m app.fakes.uisp` on a free port (as tests/fakes/servers.py starts it): yields (url, pid)."""
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen([sys.executable, "-m", "app.fakes.uisp", "--port", "0", "--clients", str(clients),
                                 "--app-key", app_key], cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            line = proc.stdout.readline()
            if not line.startswith("listening on http://"):
                errors.seek(0)
                raise RuntimeError(f"fake UISP did not start: {line!r} {errors.read()[-2000:]}")
            yield line.split("listening on ", 1)[1].strip(), proc.pid
        finally:
            proc.kill()
            proc.wait(timeout=10)
