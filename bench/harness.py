"""Run one job to its end inside a benchmark process, as `flask run-job --wait` would with a worker."""


def run_to_end(app, job_id):
    """Queue job_id, execute it with an in-process Executor, and return the finished (succeeded) run."""
    from app.extensions import db
    from app.runs.cli import _poll_until_done
    from app.runs.executor import Executor
    from app.runs.service import enqueue
    with app.app_context():
        run, _ = enqueue(job_id, {}, trigger="cli", requested_by="bench")
        db.session.commit()
        executor = Executor(app, only_run_id=run.id)
        executor.start()
        try:
            run = _poll_until_done(run.id, None)  # it ends each poll's transaction (SQLite's write lock)
        finally:
            executor.stop()
        assert run.status == "succeeded", f"run {run.id} {run.status}: {run.reason}"
        return run
