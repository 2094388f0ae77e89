"""Record who did what; the entry joins the caller's transaction."""
from flask import current_app, has_request_context, request
from flask_login import current_user

from ..extensions import db
from .models import Activity

# The core's actions; each connector declares its own (Connector.activity_actions).
ACTIONS = (
    "login", "login_failed", "login_throttled", "logout", "password_changed",
    "run_triggered", "run_cancelled", "refresh", "schedule_created", "schedule_updated",
    "schedule_toggled", "schedule_deleted", "schedule_run_now", "job_toggled",
    "settings_changed", "user_created", "user_updated", "user_disabled", "user_enabled",
    "password_reset", "role_updated", "retry", "ignore", "mapping_changed", "payment_posted",
    "connection_created", "connection_updated", "connection_toggled", "upload_stored",
)


def all_actions():
    """The core's actions and the enabled connectors' (for the Activity page's filter)."""
    return ACTIONS + current_app.extensions.get("syncdeck_actions", ())


def record(action, target="", detail="", user=None, username=None):
    """Add an activity entry to the session (the caller commits with its change)."""
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user
    entry = Activity(
        action=action, target=str(target)[:255], detail=str(detail)[:4000],
        user_id=getattr(user, "id", None),
        username=(username or getattr(user, "username", "") or "")[:64],
        ip=(request.remote_addr or "")[:64] if has_request_context() else "",
    )
    db.session.add(entry)
    return entry
