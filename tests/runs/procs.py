"""Start real Syncdeck processes against the test database, and always stop them.

Also the entry point of the small child scripts (`python -m tests.runs.procs trigger ...`).
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Fast engine timings for tests: a killed runner is noticed in seconds, not minutes.
FAST_ENGINE = {
    "EXTRA_JOB_MODULES": "tests.jobs",
    "HEARTBEAT_SECONDS": "0.2",
    "LOCK_STALE_SECONDS": "2",
    "EXECUTOR_POLL_SECONDS": "0.05",
    "SCHEDULER_RECONCILE_SECONDS": "0.5",
    "EXECUTOR_THREADS": "2",
}


def engine_env(database_url, **overrides):
    """The environment of a child process: this database, fast timings, no engine at wsgi import."""
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "FLASK_APP")}
    # `flask worker` builds its own engine; wsgi.py must not build one first (it would ignore the flags).
    env.update(FAST_ENGINE, DATABASE_URL=database_url, SYNCDECK_NO_ENGINE="1", PYTHONUNBUFFERED="1")
    env.update({k: str(v) for k, v in overrides.items()})
    return env


@pytest.fixture
def procs(app, tmp_path):
    """Child processes of this test; all stopped (SIGTERM, then SIGKILL) before the tables are reused."""
    from tests.conftest import database_url
    children = Procs(database_url(), tmp_path)
    yield children
    children.stop_all()


class Procs:
    """Children of one test; stop_all() (called by the fixture) leaves none behind."""

    def __init__(self, database_url, log_dir):
        self.database_url = database_url
        self.log_dir = Path(log_dir)
        self.procs: list[subprocess.Popen] = []
        self._logs: dict[int, Path] = {}

    def start(self, argv, name, **env):
        log_path = self.log_dir / f"{name}-{len(self.procs)}.log"
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(argv, cwd=ROOT, env=engine_env(self.database_url, **env),
                                    stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        self._logs[proc.pid] = log_path
        return proc

    def worker(self, *flags, **env):
        """`flask worker` with the given flags (e.g. --no-scheduler)."""
        argv = [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *flags]
        return self.start(argv, "worker", **env)

    def flask(self, *args, timeout=60, **env):
        """Run one `flask` command to completion and return (exit code, output)."""
        argv = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
        done = subprocess.run(argv, cwd=ROOT, env=engine_env(self.database_url, **env),
                              capture_output=True, text=True, timeout=timeout)
        return done.returncode, done.stdout + done.stderr

    def script(self, *args, **env):
        """This module as a child script (see main())."""
        return self.start([sys.executable, "-m", "tests.runs.procs", *args], args[0], **env)

    def kill(self, proc, sig=signal.SIGKILL):
        """Send sig and reap the child, so its pid is really gone (not a zombie)."""
        proc.send_signal(sig)
        proc.wait(timeout=10)

    def stop_all(self, grace=10.0):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def tail(self, lines=15):
        """The last lines each child wrote, for assertion messages."""
        out = []
        for proc in self.procs:
            text = self._logs[proc.pid].read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- pid {proc.pid} exit={proc.poll()}\n" + "\n".join(text))
        return "\n".join(out)


def wait_file(path, timeout):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {path}")
        time.sleep(0.01)


def trigger_main(job_id, count, params_json, go_path, out_path, stop_path):
    """Be an executor-only process that also enqueues job_id `count` times once `go_path` exists.

    Writes [[run_id, created], ...] as JSON to out_path, then keeps executing until stop_path exists.
    """
    from app import create_app
    from app.extensions import db
    from app.runs.process import start_engine
    from app.runs.service import enqueue, wake_executor

    app = create_app()
    engine = start_engine(app, scheduler=False, executor=True)
    Path(out_path + ".ready").touch()
    wait_file(Path(go_path), 60)
    answers = []
    with app.app_context():
        for _ in range(int(count)):
            try:
                run, created = enqueue(job_id, json.loads(params_json), trigger="cli",
                                       requested_by=f"pid {os.getpid()}")
                run_id = run.id
                db.session.commit()
                wake_executor()
                answers.append([run_id, created])
            except Exception as exc:  # recorded, so the test can say which trigger went unanswered
                db.session.rollback()
                answers.append([None, f"{type(exc).__name__}: {exc}"])
    tmp = Path(out_path + ".tmp")
    tmp.write_text(json.dumps(answers))
    tmp.rename(out_path)
    wait_file(Path(stop_path), 120)
    engine.stop()


def main(argv):
    if argv[:1] == ["trigger"]:
        trigger_main(*argv[1:])
    else:
        raise SystemExit(f"unknown command {argv!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
