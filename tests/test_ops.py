"""/healthz for load balancers and /metrics for Prometheus."""
import threading
from datetime import datetime

from prometheus_client.parser import text_string_to_metric_families

from app.extensions import db
from app.runs.models import TERMINAL, Run, WorkerProcess
from app.runs.process import start_engine
from app.runs.service import enqueue
from tests.conftest import wait_for

TOKEN = "test-metrics-token"


def test_healthz_is_public_and_unhealthy_without_an_engine(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unhealthy",
                                   "checks": {"database": True, "scheduler": False, "executor": False}}


def test_healthz_is_ok_while_the_engine_runs(app, client):
    engine = start_engine(app, scheduler=True, executor=True)
    try:
        def beating():
            with app.app_context():
                return db.session.scalar(db.select(WorkerProcess).where(WorkerProcess.id == engine.process_id))
        wait_for(beating, message="the engine's heartbeat row")
        response = wait_for(lambda: (r := client.get("/healthz")).status_code == 200 and r, message="healthy")
        assert response.get_json() == {"status": "ok", "checks": {"database": True, "scheduler": True,
                                                                  "executor": True}}
    finally:
        app.extensions["syncdeck_engine"].stop()
        app.extensions.pop("syncdeck_engine", None)
        # Its loops must be gone before the next test empties the tables they write to.
        wait_for(lambda: not [t for t in threading.enumerate() if t.name in ENGINE_LOOPS], message="engine loops")


ENGINE_LOOPS = ("syncdeck-process-beat", "syncdeck-scheduler-sync", "syncdeck-dispatch", "syncdeck-heartbeat")


def test_metrics_needs_login_or_the_bearer_token(client, app, auth):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401  # the scheme is required
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.content_type.startswith("text/plain")


def test_metrics_readable_by_a_logged_in_user(admin, client):
    assert client.get("/metrics").status_code == 200


def test_metrics_without_a_configured_token_needs_a_login(app, client):
    app.config["METRICS_TOKEN"] = ""
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def _run(app, job_id):
    with app.app_context():
        run, _ = enqueue(job_id, {}, trigger="manual", requested_by="tests")
        db.session.commit()
        run_id = run.id

    def ended():
        with app.app_context():
            return db.session.get(Run, run_id).status in TERMINAL
    wait_for(ended, message=f"{job_id} to finish")
    return run_id


def test_metrics_report_runs_and_last_success(app, client, executor):
    _run(app, "tests.noop")
    _run(app, "tests.fail")
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
    assert 'syncdeck_runs{job="tests.fail",status="failed"} 1.0' in text
    assert 'syncdeck_runs{job="tests.noop",status="succeeded"} 1.0' in text
    assert 'syncdeck_last_success_timestamp_seconds{job="tests.noop"}' in text
    assert 'syncdeck_last_success_timestamp_seconds{job="tests.fail"}' not in text

    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {"syncdeck_runs", "syncdeck_run_last_duration_seconds", "syncdeck_last_success_timestamp_seconds",
            "syncdeck_rows_synced", "syncdeck_lock_waits"} <= set(families)
    with app.app_context():
        finished = db.session.scalar(db.select(Run.finished_at).where(Run.job_id == "tests.noop"))
    (sample,) = [s for s in families["syncdeck_last_success_timestamp_seconds"].samples
                 if s.labels == {"job": "tests.noop"}]
    assert abs(sample.value - (finished - datetime(1970, 1, 1)).total_seconds()) < 0.001


def test_metrics_non_ascii_token_is_refused_not_an_error(client):
    assert client.get("/metrics", headers={"Authorization": "Bearer \u00e9t\u00e9"}).status_code == 401
