"""The engine's CLI: run-job, runs reconcile, schedules list."""
from datetime import timedelta

from app.db import utcnow
from app.extensions import db
from app.runs.models import Run, RunLock
from app.runs.schedules import save
from tests.runs.helpers import count_runs, get_run


def _cli_app(app):
    app.config["EXECUTOR_ENABLED"] = True
    return app.test_cli_runner()


def test_run_job_wait_succeeds_with_exit_0(app):
    result = _cli_app(app).invoke(args=["run-job", "tests.sleepy", "--param", "steps=2", "--param", "delay=0.01", "--wait"])
    assert result.exit_code == 0, result.output
    assert "run 1 queued job=tests.sleepy" in result.output and "run 1 succeeded" in result.output
    assert get_run(app, 1).params == {"steps": 2, "delay": 0.01} and get_run(app, 1).trigger == "cli"


def test_run_job_wait_fails_with_exit_1_and_the_reason(app):
    result = _cli_app(app).invoke(args=["run-job", "tests.fail", "--wait"])
    assert result.exit_code == 1
    assert "run 1 failed: RuntimeError: source answered 500: upstream exploded" in result.output


def test_run_job_refuses_bad_input_without_writing(app):
    runner = _cli_app(app)
    unknown = runner.invoke(args=["run-job", "nope"])
    assert unknown.exit_code != 0 and "Unknown job: 'nope'" in unknown.output
    bad_param = runner.invoke(args=["run-job", "tests.sleepy", "--param", "steps"])
    assert bad_param.exit_code != 0 and "is not KEY=VALUE" in bad_param.output
    bad_type = runner.invoke(args=["run-job", "tests.sleepy", "--param", "steps=x"])
    assert bad_type.exit_code != 0 and "must be a int" in bad_type.output
    assert count_runs(app) == 0


def test_run_job_without_wait_only_queues(app):
    result = app.test_cli_runner().invoke(args=["run-job", "tests.noop"])
    assert result.exit_code == 0 and get_run(app, 1).status == "queued"
    again = app.test_cli_runner().invoke(args=["run-job", "tests.noop"])
    assert "run 1 already in flight" in again.output


def test_runs_reconcile_fails_runs_of_dead_runners_and_frees_locks(app):
    with app.app_context():
        old = utcnow() - timedelta(minutes=10)
        stale = Run(job_id="tests.forever", lock_key="tests.forever", trigger="manual", status="running",
                    params={}, started_at=old, heartbeat_at=old, host="elsewhere", pid=1)
        db.session.add(stale)
        db.session.flush()
        db.session.add(RunLock(key="tests.forever", run_id=stale.id, heartbeat_at=old, acquired_at=old))
        db.session.commit()
        stale_id = stale.id
    result = app.test_cli_runner().invoke(args=["runs", "reconcile"])
    assert result.exit_code == 0 and f"1 run(s) marked failed: {stale_id}" in result.output
    run = get_run(app, stale_id)
    assert (run.status, run.reason) == ("failed", "runner lost") and run.finished_at
    with app.app_context():
        assert db.session.get(RunLock, "tests.forever").run_id is None


def test_schedules_list(app):
    with app.app_context():
        save(None, job_id="tests.noop", cron="0 2 * * *", name="nightly")
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["schedules", "list"])
    assert result.exit_code == 0 and "tests.noop" in result.output and "At 02:00" in result.output
