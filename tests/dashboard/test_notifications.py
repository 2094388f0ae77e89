"""Notifications over the wire: a real SMTP server and a real webhook endpoint receive them."""
import email
import email.policy
import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from app import settings
from app.runs.notifications import STALE_NOTIFIED_KEY, notify_run_finished
from app.settings.models import Setting
from app.db import utcnow
from app.extensions import db
from app.runs.models import TERMINAL, Run
from app.runs.service import cancel, enqueue
from tests.conftest import wait_for
from tests.dashboard.conftest import SMTP_PASSWORD, SMTP_USER, free_port

REASON = "RuntimeError: source answered 500: upstream exploded"


def rule(emails=(), webhook="", on_failure=False, on_success=False, on_stale=False):
    return {"emails": list(emails), "webhook": webhook, "on_failure": on_failure, "on_success": on_success,
            "on_stale": on_stale}


def set_rules(app, rules, default=None):
    """Save notification rules; the default row notifies nobody unless given."""
    with app.app_context():
        settings.put("notifications", {"*": default or rule(on_failure=True), **rules})
        db.session.commit()


def start(app, job_id, **params):
    with app.app_context():
        run, created = enqueue(job_id, params, trigger="manual", requested_by="tests")
        db.session.commit()
        assert created
        return run.id


def finished(app, run_id):
    """Wait for the run to end; return it (detached, with its final values)."""
    def ended():
        with app.app_context():
            run = db.session.get(Run, run_id)
            return run if run.status in TERMINAL else None
    return wait_for(ended, message=f"run {run_id} to finish")


def mail(message):
    return email.message_from_string(message["data"], policy=email.policy.default)


def test_failed_run_sends_one_email_and_one_webhook(app, admin, executor, smtp_server, webhook_server):
    set_rules(app, {"tests.fail": rule(["oncall@example.com", "lead@example.com"], webhook_server.url,
                                       on_failure=True)})
    response = admin.post("/api/jobs/tests.fail/run", json={})
    assert response.status_code == 202
    run_id = response.get_json()["run"]["id"]
    wait_for(lambda: smtp_server.messages and webhook_server.bodies, message="email and webhook")
    executor.stop()  # waits for the after-run hooks: nothing else can arrive now
    assert finished(app, run_id).status == "failed"

    (message,) = smtp_server.messages
    sent = mail(message)
    assert sent["Subject"] == f"[Syncdeck] tests.fail failed: {REASON}"
    assert message["to"] == ["oncall@example.com", "lead@example.com"] and sent["From"] == "syncdeck@localhost"
    body = sent.get_content()
    assert f"http://127.0.0.1:5000/runs/{run_id}" in body and REASON in body and "Trigger: manual alice" in body

    (hook,) = webhook_server.bodies
    assert hook["run"] == {"id": run_id, "job_id": "tests.fail", "status": "failed", "reason": REASON,
                           "url": f"http://127.0.0.1:5000/runs/{run_id}"}
    assert hook["text"].startswith(f"[Syncdeck] tests.fail failed: {REASON}")
    assert hook["text"].endswith(f"/runs/{run_id}")


@pytest.mark.parametrize("on_success,expected", [(False, 0), (True, 1)])
def test_success_notifies_only_when_asked(app, executor, smtp_server, webhook_server, on_success, expected):
    set_rules(app, {"tests.noop": rule(["ops@example.com"], webhook_server.url, on_failure=True,
                                       on_success=on_success)})
    run_id = start(app, "tests.noop")
    assert finished(app, run_id).status == "succeeded"
    executor.stop()  # the after-run hook has run once this returns
    assert len(smtp_server.messages) == expected and len(webhook_server.bodies) == expected
    if expected:
        assert mail(smtp_server.messages[0])["Subject"].startswith("[Syncdeck] tests.noop succeeded: ")
        assert webhook_server.bodies[0]["run"]["status"] == "succeeded"


def test_unreachable_webhook_does_not_break_the_run_and_email_still_goes(app, executor, smtp_server, caplog):
    dead_hook = f"http://127.0.0.1:{free_port()}/hooks/T0/B0/secret-hook-token"
    set_rules(app, {"tests.fail": rule(["oncall@example.com"], dead_hook, on_failure=True)})
    run_id = start(app, "tests.fail")
    wait_for(lambda: smtp_server.messages, message="the email")
    executor.stop()
    run = finished(app, run_id)
    assert (run.status, run.reason) == ("failed", REASON)
    assert len(smtp_server.messages) == 1
    failures = [r.getMessage() for r in caplog.records if "channel=webhook" in r.getMessage()]
    assert failures and f"run={run_id}" in failures[0] and "host=127.0.0.1" in failures[0]
    assert "secret-hook-token" not in caplog.text


def test_smtp_login_is_used_and_its_password_never_shown(app, executor, smtp_server, webhook_server, caplog):
    app.config.update(SMTP_USER=SMTP_USER, SMTP_PASSWORD="wrong-" + SMTP_PASSWORD)
    set_rules(app, {"tests.fail": rule(["oncall@example.com"], webhook_server.url, on_failure=True)})
    first = start(app, "tests.fail")
    wait_for(lambda: webhook_server.bodies, message="the webhook")  # a refused login does not stop it
    finished(app, first)
    wait_for(lambda: "channel=email" in caplog.text, message="the email failure logged")
    assert smtp_server.messages == [] and f"run={first}" in caplog.text

    app.config["SMTP_PASSWORD"] = SMTP_PASSWORD
    second = start(app, "tests.fail")
    wait_for(lambda: smtp_server.messages, message="the email")
    executor.stop()
    (message,) = smtp_server.messages
    assert message["authenticated"] and message["login"] == SMTP_USER.encode()
    assert f"/runs/{second}" in message["data"]
    for text in [message["data"], caplog.text] + [str(b) for b in webhook_server.bodies]:
        assert SMTP_PASSWORD not in text


def test_email_is_skipped_without_smtp_host(app, executor, webhook_server, caplog):
    caplog.set_level(logging.INFO, logger="app.runs.notifications")
    app.config["SMTP_HOST"] = ""
    set_rules(app, {"tests.fail": rule(["oncall@example.com"], webhook_server.url, on_failure=True)})
    start(app, "tests.fail")
    wait_for(lambda: webhook_server.bodies, message="the webhook")
    executor.stop()
    assert "email skipped: SMTP_HOST is not set" in caplog.text
    assert len(webhook_server.bodies) == 1


def test_cancelled_run_never_notifies(app, smtp_server, webhook_server):
    set_rules(app, {}, default=rule(["ops@example.com"], webhook_server.url, True, True, True))
    run_id = start(app, "tests.noop")
    with app.app_context():
        run = db.session.get(Run, run_id)
        assert cancel(run, "alice")
        db.session.commit()
        run = db.session.get(Run, run_id, populate_existing=True)
        assert run.status == "cancelled"
        assert notify_run_finished(run) == 0
    assert smtp_server.messages == [] and webhook_server.bodies == []


def write_while_delivering(app, webhook_server, trigger):
    """Hold the webhook request open and prove another writer is not blocked meanwhile."""
    webhook_server.gate = threading.Event()
    trigger()
    wait_for(lambda: webhook_server.bodies, message="the webhook request")
    done = threading.Event()

    def write():
        with app.app_context():
            settings.put("retention_days", 7)
            db.session.commit()
        done.set()
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        wait_for(done.is_set, timeout=5, message="a write while a notification is being delivered")
    finally:
        webhook_server.gate.set()
        writer.join(60)


def test_no_transaction_is_held_while_a_run_notification_is_delivered(app, executor, webhook_server):
    set_rules(app, {"tests.fail": rule(webhook=webhook_server.url, on_failure=True)})
    write_while_delivering(app, webhook_server, lambda: start(app, "tests.fail"))


def test_succeeded_run_with_dependents_still_notifies(app, executor, webhook_server):
    """tests.noop queues tests.after_noop (a commit) before its own notification goes out."""
    set_rules(app, {"tests.noop": rule(webhook=webhook_server.url, on_success=True)})
    run_id = start(app, "tests.noop")
    wait_for(lambda: webhook_server.bodies, message="the webhook")
    executor.stop()
    assert [b["run"]["id"] for b in webhook_server.bodies] == [run_id]


# --- stale data ---------------------------------------------------------------

def backdate(app, run_id, age):
    """Make a run look as if it finished `age` ago: the clock moving on, without waiting."""
    with app.app_context():
        when = utcnow() - age
        db.session.execute(update(Run).where(Run.id == run_id).values(started_at=when, finished_at=when))
        db.session.commit()


def check_freshness(app):
    run = finished(app, start(app, "system.check_freshness"))
    assert run.status == "succeeded", run.reason
    return run.summary


def sleepy_success(app):
    run = finished(app, start(app, "tests.sleepy", steps="1", delay="0"))
    assert run.status == "succeeded"
    return run.id


@pytest.fixture
def stale_rule(app, webhook_server):
    set_rules(app, {"tests.sleepy": rule(["data@example.com"], webhook_server.url, on_stale=True)})
    with app.app_context():
        settings.put("stale_minutes", {"*": 120, "tests.sleepy": 60})
        db.session.commit()


def test_stale_data_notifies_once_per_episode(app, executor, smtp_server, webhook_server, stale_rule):
    first = sleepy_success(app)
    backdate(app, first, timedelta(minutes=90))
    assert check_freshness(app) == "1 stale, 2 notification(s) sent"  # one email and one webhook
    assert check_freshness(app) == "1 stale, 0 notification(s) sent"  # same episode: no second message
    assert len(smtp_server.messages) == 1 and len(webhook_server.bodies) == 1
    subject = mail(smtp_server.messages[0])["Subject"]
    assert subject.startswith("[Syncdeck] tests.sleepy data is stale: last success ") and "limit 60 min" in subject
    assert webhook_server.bodies[0]["stale"]["job_id"] == "tests.sleepy"
    assert webhook_server.bodies[0]["stale"]["age_minutes"] == 90

    second = sleepy_success(app)
    assert check_freshness(app) == "All data fresh"
    backdate(app, second, timedelta(minutes=61))
    assert check_freshness(app) == "1 stale, 2 notification(s) sent"  # a newer success went stale: a new episode
    assert check_freshness(app) == "1 stale, 0 notification(s) sent"
    assert len(smtp_server.messages) == 2 and len(webhook_server.bodies) == 2
    episodes = [b["stale"]["last_success"] for b in webhook_server.bodies]
    assert episodes[0] < episodes[1]
    with app.app_context():
        assert db.session.get(Setting, STALE_NOTIFIED_KEY).value == {"tests.sleepy": episodes[1]}
        assert STALE_NOTIFIED_KEY not in settings.get_many()


def test_no_transaction_is_held_while_a_stale_notification_is_delivered(app, executor, webhook_server):
    set_rules(app, {"tests.sleepy": rule(webhook=webhook_server.url, on_stale=True)})
    write_while_delivering(app, webhook_server, lambda: start(app, "system.check_freshness"))


def test_stale_without_on_stale_sends_nothing(app, executor, smtp_server, webhook_server):
    set_rules(app, {"tests.sleepy": rule(["data@example.com"], webhook_server.url, on_failure=True)})
    assert check_freshness(app) == "1 stale, 0 notification(s) sent"  # never succeeded: stale, but not asked
    assert smtp_server.messages == [] and webhook_server.bodies == []


def test_failed_stale_delivery_is_tried_again(app, executor, smtp_server):
    set_rules(app, {"tests.sleepy": rule(["data@example.com"], on_stale=True)})
    real_port = app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = free_port()  # the mail server is down
    assert check_freshness(app) == "1 stale, 0 notification(s) sent"
    app.config["SMTP_PORT"] = real_port
    assert check_freshness(app) == "1 stale, 1 notification(s) sent"
    assert check_freshness(app) == "1 stale, 0 notification(s) sent"
    (message,) = smtp_server.messages
    assert mail(message)["Subject"] == "[Syncdeck] tests.sleepy data is stale: no successful run yet"
