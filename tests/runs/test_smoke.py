from app.extensions import db
from app.runs.models import Run, RunLog
from app.runs.service import enqueue
from tests.conftest import wait_for


def _run(app, run_id):
    with app.app_context():
        return db.session.get(Run, run_id)


def test_queued_run_is_executed_with_progress_and_logs(app, executor):
    with app.app_context():
        run, created = enqueue("tests.sleepy", {"steps": "3", "delay": "0.05"}, trigger="manual", requested_by="t")
        db.session.commit()
        run_id = run.id
    assert created
    wait_for(lambda: _run(app, run_id).status == "succeeded", message="run to succeed")
    run = _run(app, run_id)
    assert (run.progress_done, run.progress_total) == (30, 30)
    assert run.rows_inserted == 30 and run.summary == "Refreshed 30 items"
    with app.app_context():
        messages = [l.message for l in db.session.scalars(db.select(RunLog).where(RunLog.run_id == run_id).order_by(RunLog.seq))]
    assert messages[0].startswith("started") and "step 3 of 3" in messages and messages[-1].startswith("finished status=succeeded")
