"""Seed 001's wished-for alerts: a failed batch (and, when asked, a finished one) reaches a person."""
from tests.conftest import put_settings, wait_for
from tests.runs.helpers import run_job
from tests.dashboard.conftest import webhook_server  # noqa: F401 — a real HTTP receiver


def _notify(app, url, on_success):
    put_settings(app, notifications={
        "*": {"emails": [], "webhook": "", "on_failure": False, "on_success": False, "on_stale": False},
        "billing.bill_stop_batch": {"emails": [], "webhook": url, "on_failure": True, "on_success": on_success,
                                    "on_stale": False}})


def test_failed_batch_notifies_with_its_reason(app, executor, webhook_server):  # noqa: F811
    _notify(app, webhook_server.url, on_success=False)
    app.config.update(BILLING_DB_URL="sqlite:////nonexistent/dir/ccb.db")
    run = run_job(app, "billing.bill_stop_batch")
    assert run.status == "failed"
    (hook,) = wait_for(lambda: webhook_server.bodies, message="the failure webhook")
    assert hook["run"]["job_id"] == "billing.bill_stop_batch" and hook["run"]["status"] == "failed"
    assert "unable to open database file" in hook["text"]


def test_completed_batch_notifies_when_settings_ask(app, billing, executor, webhook_server):  # noqa: F811
    _notify(app, webhook_server.url, on_success=True)
    run = run_job(app, "billing.bill_stop_batch")
    assert run.status == "succeeded"
    (hook,) = wait_for(lambda: webhook_server.bodies, message="the success webhook")
    assert hook["run"]["id"] == run.id and "bill stops" in hook["text"]
