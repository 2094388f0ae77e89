"""Tell people about failed (optionally succeeded) runs and stale data, by email and webhook."""
import logging
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import urlsplit

import requests
from flask import current_app
from sqlalchemy import inspect

from .. import settings
from ..db import utcnow
from ..extensions import db
from ..settings import localtime
from ..settings.models import Setting
from .models import Run

log = logging.getLogger(__name__)

# Settings row remembering, per job, the last success whose staleness was already reported.
STALE_NOTIFIED_KEY = "_stale_notified"
# A cancelled run never notifies: a person chose to stop it.
_FLAG_FOR_STATUS = {"failed": "on_failure", "succeeded": "on_success"}
_SUBJECT_MAX = 200


def wants_notification(job_id, status) -> bool:
    """Whether a run of job_id ending in status notifies anyone (settings read at most every few seconds)."""
    flag = _FLAG_FOR_STATUS.get(status)
    if flag is None:
        return False
    rule = settings.notification_rule(job_id, {"notifications": settings.cached("notifications")})
    return bool(rule[flag] and (rule["emails"] or rule["webhook"]))


def notify_run_finished(run) -> int:
    """Send the job's notifications for a finished run; return how many deliveries succeeded."""
    try:
        message = _run_message(_loaded(run))
        _end_transaction()
        return deliver(*message) if message else 0
    except Exception:  # a notification must never break the executor's after-run hooks
        db.session.rollback()
        log.exception("run=%s notification failed", (inspect(run).identity or (None,))[0])
        return 0


def notify_stale(item) -> int:
    """Notify once per staleness episode of a job's data; return how many deliveries succeeded."""
    try:
        return _notify_stale(item)
    except Exception:  # one job's trouble must not stop the freshness check of the others
        db.session.rollback()
        log.exception("job=%s stale notification failed", item.job_id)
        return 0


def _run_message(run):
    """(rule, subject, body, payload, context) for a finished run, or None if its rule stays silent."""
    flag = _FLAG_FOR_STATUS.get(run.status)
    rule = settings.notification_rule(run.job_id)
    if flag is None or not rule[flag]:
        return None
    url = public_url(f"/runs/{run.id}")
    subject = _run_subject(run)
    payload = {"text": f"{subject} {url}",
               "run": {"id": run.id, "job_id": run.job_id, "status": run.status, "reason": run.reason, "url": url}}
    return rule, subject, _run_body(run, url), payload, f"run={run.id}"


def _notify_stale(item):
    rule = settings.notification_rule(item.job_id)
    if not rule["on_stale"]:
        return 0
    # The last success identifies the episode: only a newer success going stale notifies again.
    episode = item.last_success.isoformat() if item.last_success else "never"
    if _stale_notified().get(item.job_id) == episode:
        return 0
    url = public_url(f"/runs?job={item.job_id}")
    subject = _stale_subject(item)
    payload = {"text": f"{subject} {url}",
               "stale": {"job_id": item.job_id, "last_success": episode, "age_minutes": item.age_minutes,
                         "limit_minutes": item.limit_minutes, "url": url}}
    body = f"{subject}\n\nRuns of {item.title}: {url}\n"
    _end_transaction()
    sent = deliver(rule, subject, body, payload, f"job={item.job_id} stale")
    if sent:  # remember only what reached someone, so a failed delivery is tried again next check
        _remember_stale(item.job_id, episode)
    return sent


def _loaded(run):
    """The run with its columns readable, even if a commit expired it before it was detached."""
    state = inspect(run)
    if state.detached and state.expired_attributes:
        return db.session.get(Run, state.identity[0])
    return run


def _end_transaction():
    """Network I/O follows: hold no transaction meanwhile (on SQLite that would be the write lock)."""
    db.session.commit()


def deliver(rule, subject, body, payload, context):
    """Send by email and webhook as the rule says; log failures (without secrets) and count successes."""
    sent = 0
    if rule.get("emails"):
        sent += _attempt(send_email, rule["emails"], subject, body, context=context, channel="email")
    if rule.get("webhook"):
        sent += _attempt(post_webhook, rule["webhook"], payload, context=context, channel="webhook")
    return sent


def _attempt(send, *args, context, channel):
    try:
        delivered = send(*args)
    except Exception as exc:  # one broken channel must not stop the other, nor the run
        log.warning("%s notification failed channel=%s error=%s", context, channel, _safe_error(exc))
        return 0
    if delivered:
        log.info("%s notification sent channel=%s", context, channel)
    return 1 if delivered else 0


def send_email(recipients, subject, body):
    """Send one message to every recipient; False (and a log line) when no SMTP host is configured."""
    cfg = current_app.config
    if not cfg["SMTP_HOST"]:
        log.info("email skipped: SMTP_HOST is not set recipients=%d", len(recipients))
        return False
    message = EmailMessage()
    message["Subject"] = _one_line(subject)
    message["From"] = cfg["MAIL_FROM"]
    message["To"] = ", ".join(recipients)
    message.set_content(body)
    with smtplib.SMTP(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=cfg["NOTIFY_TIMEOUT_SECONDS"]) as smtp:
        if cfg["SMTP_STARTTLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if cfg["SMTP_USER"]:
            smtp.login(cfg["SMTP_USER"], cfg["SMTP_PASSWORD"])
        smtp.send_message(message)
    return True


def post_webhook(url, payload):
    """POST the payload as JSON; a non-2xx answer counts as a failure."""
    response = requests.post(url, json=payload, timeout=current_app.config["NOTIFY_TIMEOUT_SECONDS"])
    response.raise_for_status()
    return True


def public_url(path):
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def _run_subject(run):
    if run.status == "failed":
        detail = run.reason or "unknown error"
    else:
        detail = run.summary or (f"finished in {run.duration:.1f} s" if run.duration is not None else "finished")
    return _one_line(f"[Syncdeck] {run.job_id} {run.status}: {detail}")


def _stale_subject(item):
    if item.last_success is None:
        return f"[Syncdeck] {item.job_id} data is stale: no successful run yet"
    when = localtime(item.last_success, "%Y-%m-%d %H:%M %Z")
    return (f"[Syncdeck] {item.job_id} data is stale: last success {when} ({item.age_minutes} min ago), "
            f"limit {item.limit_minutes} min")


def _run_body(run, url):
    lines = [
        f"Job: {run.job_id}", f"Status: {run.status}", f"Reason: {run.reason or '-'}",
        f"Summary: {run.summary or '-'}", f"Trigger: {run.trigger} {run.requested_by}".rstrip(),
        f"Started: {localtime(run.started_at, '%Y-%m-%d %H:%M:%S %Z')}",
        f"Finished: {localtime(run.finished_at, '%Y-%m-%d %H:%M:%S %Z')}",
        "", f"Run: {url}",
    ]
    return "\n".join(lines) + "\n"


def _one_line(text):
    """Subjects must be one line: an exception message can span many."""
    line = " ".join(str(text).split())
    return line if len(line) <= _SUBJECT_MAX else line[:_SUBJECT_MAX - 1] + "…"


def _safe_error(exc):
    """Describe a delivery error without the webhook URL (its path is often a token) or a password."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        host = urlsplit(exc.response.url).hostname
        return f"HTTPError status={exc.response.status_code} host={host}"
    if isinstance(exc, requests.RequestException):
        host = urlsplit(exc.request.url).hostname if exc.request is not None and exc.request.url else "?"
        return f"{type(exc).__name__} host={host}"
    text = f"{type(exc).__name__}: {exc}"
    password = current_app.config.get("SMTP_PASSWORD")
    return text.replace(password, "***") if password else text


def _stale_row():
    # populate_existing: another process's check may have updated it since this session read it.
    return db.session.get(Setting, STALE_NOTIFIED_KEY, populate_existing=True)


def _stale_notified():
    row = _stale_row()
    return dict(row.value or {}) if row is not None else {}


def _remember_stale(job_id, episode):
    row = _stale_row()
    if row is None:
        row = Setting(key=STALE_NOTIFIED_KEY, value={})
        db.session.add(row)
    # A new dict, because the JSON column does not track changes made in place.
    row.value = {**(row.value or {}), job_id: episode}
    row.updated_at, row.updated_by = utcnow(), "system"
    db.session.commit()
