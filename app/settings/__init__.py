"""Settings with their defaults, read from the settings table and validated on write.

The core's settings are declared here; each enabled connector declares its own (SettingSpec),
which the app collects in app.extensions["syncdeck_settings"] when it is built.
"""
import copy
import re
import time
from datetime import timezone
from zoneinfo import ZoneInfo, available_timezones

from flask import current_app, g, has_app_context, has_request_context

from ..db import utcnow
from ..extensions import db
from .models import Setting

DEFAULTS = {
    # Timezone in which times are shown and cron schedules fire.
    "business_timezone": "UTC",
    # The business day starts at this local time (trading days that run past midnight).
    "day_cutoff": "00:00",
    # Runs and log lines older than this many days are purged by system.purge.
    "retention_days": 30,
    # A login enqueues the global refresh when data is older than this (0 = never).
    "refresh_on_login_minutes": 15,
    # Data older than this is flagged stale; per job id, "*" for every other job.
    "stale_minutes": {"*": 120},
    # Job ids run by the Refresh Data button; None = every job declared refresh=True.
    "global_refresh_jobs": None,
    # Jobs switched off on the Jobs page: their schedules do not fire.
    "disabled_jobs": [],
    # Per job id ("*" for the rest): emails, webhook, and which outcomes notify.
    "notifications": {"*": {"emails": [], "webhook": "", "on_failure": True,
                            "on_success": False, "on_stale": False}},
}


class SettingError(ValueError):
    """A setting value is invalid; the message is shown to the user."""


def connector_settings():
    """{key: (connector id, SettingSpec)} of the enabled connectors, in declaration order."""
    return current_app.extensions.get("syncdeck_settings", {}) if has_app_context() else {}


def defaults():
    """Every setting's default: the core's and the enabled connectors'."""
    values = copy.deepcopy(DEFAULTS)
    values.update({key: copy.deepcopy(spec.default) for key, (_, spec) in connector_settings().items()})
    return values


def validator(key):
    if key in VALIDATORS:
        return VALIDATORS[key]
    return connector_settings()[key][1].validator


def get(key):
    row = db.session.get(Setting, key)
    if row is not None:
        return row.value
    if key in DEFAULTS:
        return copy.deepcopy(DEFAULTS[key])
    return copy.deepcopy(connector_settings()[key][1].default)


def get_many():
    values = defaults()
    for row in db.session.scalars(db.select(Setting)):
        if row.key in values:
            values[row.key] = row.value
    return values


_CACHE: dict = {}
CACHE_SECONDS = 5.0


def cached(key):
    """A setting read at most every CACHE_SECONDS per process (hot paths: every finished run)."""
    hit = _CACHE.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    value = get(key)
    db.session.rollback()  # end the read: on SQLite a worker's transaction holds the write lock
    _CACHE[key] = (time.monotonic() + CACHE_SECONDS, value)
    return value


def put(key, value, username=""):
    """Validate and stage one setting in the session (the caller commits)."""
    value = validator(key)(value)
    if key == "business_timezone" and has_request_context():
        g.pop("business_tz", None)
    _CACHE.pop(key, None)
    row = db.session.get(Setting, key)
    if row is None:
        row = Setting(key=key)
        db.session.add(row)
    row.value, row.updated_at, row.updated_by = value, utcnow(), username
    return value


def business_tz():
    """The business timezone; read once per request (every shown time needs it)."""
    if not has_request_context():
        return ZoneInfo(get("business_timezone"))
    if "business_tz" not in g:
        g.business_tz = ZoneInfo(get("business_timezone"))
    return g.business_tz


def localtime(value, fmt="%Y-%m-%d %H:%M:%S"):
    """Show a stored (naive UTC) time in the business timezone."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(business_tz()).strftime(fmt)


def notification_rule(job_id, values=None):
    rules = (values or {}).get("notifications") or get("notifications")
    return {**DEFAULTS["notifications"]["*"], **rules.get("*", {}), **rules.get(job_id, {})}


def _timezone(value):
    if value not in available_timezones():
        raise SettingError(f"Unknown timezone: {value!r}")
    return value


def _cutoff(value):
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", str(value)):
        raise SettingError("Day cutoff must be a time as HH:MM, e.g. 04:00")
    return value


def int_range(low, high, label):
    def check(value):
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise SettingError(f"{label} must be a whole number") from None
        if not low <= number <= high:
            raise SettingError(f"{label} must be between {low} and {high}")
        return number
    return check


def _stale(value):
    minutes = int_range(1, 525600, "Stale limit (minutes)")
    if not isinstance(value, dict) or "*" not in value:
        raise SettingError("Stale limits need a default ('*')")
    return {str(k): minutes(v) for k, v in value.items()}


def _job_list(value):
    """A list of job ids (whether each names a registered job is the Settings page's check)."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise SettingError("Expected a list of job ids")
    return list(value)


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+|[^@\s]+@localhost")


def _notifications(value):
    if not isinstance(value, dict):
        raise SettingError("Notifications must map job ids to rules")
    return {str(job_id): _notification_rule(rule) for job_id, rule in value.items()}


def _notification_rule(rule):
    if not isinstance(rule, dict):
        raise SettingError("A notification rule must be an object")
    emails = rule.get("emails") or []
    if isinstance(emails, str):
        emails = emails.split(",")
    emails = [str(e).strip() for e in emails if str(e).strip()]
    for email in emails:
        if not _EMAIL.fullmatch(email):
            raise SettingError(f"Not an email address: {email!r}")
    webhook = (rule.get("webhook") or "").strip()
    if webhook and not re.match(r"https?://", webhook):
        raise SettingError("Webhook must be an http(s) URL")
    flags = {k: bool(rule.get(k, False)) for k in ("on_failure", "on_success", "on_stale")}
    return {"emails": emails, "webhook": webhook, **flags}


VALIDATORS = {
    "business_timezone": _timezone,
    "day_cutoff": _cutoff,
    "retention_days": int_range(1, 3650, "Retention (days)"),
    "refresh_on_login_minutes": int_range(0, 10080, "Refresh-on-login threshold (minutes)"),
    "stale_minutes": _stale,
    "global_refresh_jobs": _job_list,
    "notifications": _notifications,
    "disabled_jobs": lambda value: sorted(set(_job_list(value or []))),
}
