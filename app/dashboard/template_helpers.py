"""Jinja filters and globals: business-time formatting, durations, permissions, navbar."""
from flask import request, url_for
from flask_login import current_user

from .. import settings
from ..connectors import nav_items
from ..db import utcnow
from ..settings import localtime

CORE_NAV = [("Overview", "dashboard.overview"), ("Jobs", "runs.jobs"), ("Runs", "runs.runs_list"),
            ("Logs", "runs.logs"), ("Schedules", "runs.schedules"), ("Activity", "admin.activity"),
            ("Users", "admin.users"), ("Settings", "dashboard.settings_page")]


def ago(value):
    if value is None:
        return "never"
    seconds = int((utcnow() - value).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400 * 2:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min ago"
    return f"{seconds // 86400} days ago"


def duration(seconds):
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    return f"{minutes} min {sec} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def number(value):
    return "—" if value is None else f"{value:,}"


def url_with(**changes):
    """The current URL with some query arguments changed (for filters and pagination)."""
    args = request.args.to_dict()
    args.update({k: v for k, v in changes.items() if v is not None})
    for key in [k for k, v in changes.items() if v is None]:
        args.pop(key, None)
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def init_app(app):
    app.jinja_env.filters.update(localtime=localtime, ago=ago, duration=duration, number=number)
    app.jinja_env.globals.update(url_with=url_with)

    @app.context_processor
    def inject():
        can = (lambda p: current_user.is_authenticated and current_user.can(p))
        return {"can": can, "core_nav": CORE_NAV, "connector_nav": nav_items(),
                "business_tz_name": settings.get("business_timezone") if current_user.is_authenticated else "UTC",
                "server_now": utcnow().isoformat(timespec="milliseconds") + "Z"}
