"""The Settings page: every setting except disabled_jobs (the Jobs page manages that one)."""
import re
from zoneinfo import available_timezones

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from ..auth import activity
from ..extensions import db
from ..runs.registry import all_jobs, find_job
from .. import settings
from .routes import bp

# Saved by this page, in the order the page shows them.
KEYS = ("business_timezone", "day_cutoff", "retention_days", "refresh_on_login_minutes",
        "stale_minutes", "global_refresh_jobs", "notifications")
LABELS = {
    "business_timezone": "Business timezone", "day_cutoff": "Day cutoff", "retention_days": "Retention",
    "refresh_on_login_minutes": "Refresh on login", "stale_minutes": "Stale limits",
    "global_refresh_jobs": "Global refresh jobs", "notifications": "Notifications",
}
FLAGS = ("on_failure", "on_success", "on_stale")


def _keys():
    return KEYS + tuple(settings.connector_settings())


def _label(key):
    return LABELS.get(key) or settings.connector_settings()[key][1].label


def _connector_rows():
    """{key: (connector id, label, help)} of the connectors' settings, as the page lists them."""
    return {key: (cid, spec.label, spec.help) for key, (cid, spec) in settings.connector_settings().items()}


@bp.route("/settings", methods=["GET", "POST"])
def settings_page():
    """Show every setting; on POST validate them all and save all of them or none."""
    if request.method == "GET":
        return _render(settings.get_many())
    if not current_user.can("manage_settings"):
        abort(403, "You need the 'manage_settings' permission to do this.")
    current = settings.get_many()
    submitted = _from_form(current)
    values, errors = _validate(submitted)
    if errors:
        db.session.rollback()
        return _render(submitted, errors), 400
    changed = [key for key in _keys() if values[key] != current[key]]
    try:
        _save(values, changed)
    except IntegrityError:  # another admin saved the same new key a moment ago
        db.session.rollback()
        return _render(submitted, {"form": "Someone else saved settings at the same time; review and save again."}), 409
    flash(f"Saved: {', '.join(_label(k) for k in changed)}." if changed else "Nothing changed.",
          "success" if changed else "info")
    return redirect(url_for("dashboard.settings_page"))


def _save(values, changed):
    """Stage every changed key plus one audit entry, and commit them together."""
    for key in changed:
        settings.put(key, values[key], current_user.username)
    if changed:
        # Key names only: values such as webhook URLs can carry tokens.
        activity.record("settings_changed", target="settings", detail="changed: " + ", ".join(changed))
    db.session.commit()


def _validate(submitted):
    """Run every validator; return the clean values and the message of each invalid key."""
    values, errors = {}, {}
    for key in _keys():
        try:
            values[key] = settings.validator(key)(submitted[key])
        except settings.SettingError as exc:
            errors[key] = str(exc)
    unknown = [job_id for job_id in values.get("global_refresh_jobs") or [] if find_job(job_id) is None]
    if unknown:
        errors["global_refresh_jobs"] = f"Unknown job: {unknown[0]!r}"
    return values, errors


def _from_form(current):
    """Read the posted form into the shape the settings have (raw, not yet validated)."""
    form = request.form
    chosen = form.getlist("global_refresh_jobs") if form.get("global_refresh_mode") == "chosen" else None
    return {
        "business_timezone": form.get("business_timezone", "").strip(),
        "day_cutoff": form.get("day_cutoff", "").strip(),
        "retention_days": form.get("retention_days", "").strip(),
        "refresh_on_login_minutes": form.get("refresh_on_login_minutes", "").strip(),
        "stale_minutes": _stale_from_form(current["stale_minutes"]),
        "global_refresh_jobs": chosen,
        "notifications": _notifications_from_form(current["notifications"]),
        **{key: form.get(key, "").strip() for key in settings.connector_settings()},
    }


def _stale_from_form(stored):
    shown = {job.id for job in stale_limit_jobs()}
    # Overrides for jobs this page does not list (a connector switched off) are kept, not lost.
    limits = {"*": request.form.get("stale_minutes:*", "").strip()}
    limits.update({k: v for k, v in stored.items() if k != "*" and k not in shown})
    for job_id in sorted(shown):
        raw = request.form.get(f"stale_minutes:{job_id}", "").strip()
        if raw:
            limits[job_id] = raw
    return limits


def _notifications_from_form(stored):
    listed = {job.id for job in all_jobs()}
    rules = {"*": _rule_from_form("*")}
    rules.update({k: v for k, v in stored.items() if k != "*" and k not in listed})
    for job_id in sorted(listed):
        if request.form.get(f"notify:{job_id}:own"):
            rules[job_id] = _rule_from_form(job_id)
    return rules


def _rule_from_form(key):
    form = request.form
    emails = [e for e in re.split(r"[,;\s]+", form.get(f"notify:{key}:emails", "")) if e]
    return {"emails": emails, "webhook": form.get(f"notify:{key}:webhook", "").strip(),
            **{flag: bool(form.get(f"notify:{key}:{flag}")) for flag in FLAGS}}


def stale_limit_jobs():
    """Jobs whose data age matters: they get their own stale-limit row."""
    return [job for job in all_jobs() if job.freshness or job.refresh]


def _render(values, errors=None):
    return render_template(
        "dashboard/settings.html", values=values, errors=errors or {}, labels=LABELS, flags=FLAGS,
        timezones=sorted(available_timezones()), stale_jobs=stale_limit_jobs(), all_jobs=all_jobs(),
        refresh_choices=[job for job in all_jobs() if not job.system],
        connector_settings=_connector_rows(),
    )
