"""Small JSON endpoints polled by the browser: run status, log tail, refresh, events."""
from datetime import datetime, timedelta

from flask import Blueprint, abort, jsonify, request
from flask_login import current_user
from sqlalchemy import or_, select

from ..auth import activity
from ..auth.permissions import permission_required
from ..db import utcnow
from ..extensions import db
from ..filters import run_ids_arg
from .models import Run, RunLog
from .refresh import in_flight_refresh_runs
from .service import cancel
from .registry import find_job
from .trigger import RunRequestError, params_with_files, refused, request_refresh, request_run, respond
from .views import iso, outcome_sentence, run_json

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_LOG_LINES = 1000
# Runs committed a little after the time they record are still reported once.
EVENT_OVERLAP = timedelta(seconds=15)


def _int_arg(name, default=None, minimum=0):
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, f"'{name}' must be a whole number")
    if value < minimum:
        abort(400, f"'{name}' must be at least {minimum}")
    return value


def _get_run(run_id):
    run = db.session.get(Run, run_id)
    if run is None:
        abort(404, f"No run {run_id}")
    return run


@bp.get("/runs/<int:run_id>")
def run_status(run_id):
    return jsonify(run_json(_get_run(run_id)))


@bp.get("/runs")
def runs_status():
    ids = run_ids_arg()
    runs = db.session.scalars(select(Run).where(Run.id.in_(ids))).all() if ids else []
    return jsonify(runs=[run_json(r) for r in runs])


@bp.get("/runs/<int:run_id>/logs")
def run_logs(run_id):
    run = _get_run(run_id)
    after = _int_arg("after", 0)
    lines = db.session.scalars(
        select(RunLog).where(RunLog.run_id == run_id, RunLog.seq > after).order_by(RunLog.seq).limit(MAX_LOG_LINES)
    ).all()
    return jsonify(
        run_id=run_id, status=run.status, done=run.status not in ("queued", "running"),
        next_after=lines[-1].seq if lines else after,
        lines=[{"seq": l.seq, "at": iso(l.at), "level": l.level, "message": l.message} for l in lines],
    )


@bp.post("/jobs/<job_id>/run")
@permission_required("trigger_runs")
def trigger_job(job_id):
    payload = request.get_json(silent=True)
    params = payload.get("params", {}) if isinstance(payload, dict) else request.form.to_dict()
    if not isinstance(params, dict):
        abort(400, "'params' must be an object")
    params.pop("csrf_token", None)
    try:
        job_def = find_job(job_id)
        return respond([request_run(job_id, params_with_files(job_def, params) if job_def else params)])
    except RunRequestError as exc:
        return refused(exc)


@bp.post("/runs/<int:run_id>/cancel")
@permission_required("trigger_runs")
def cancel_run(run_id):
    run = _get_run(run_id)
    if not cancel(run, current_user.username):
        return jsonify(error=f"Run {run_id} already {run.status}", status=409), 409
    activity.record("run_cancelled", target=run.job_id, detail=f"run {run.id}")
    db.session.commit()
    return jsonify(run=run_json(db.session.get(Run, run_id, populate_existing=True)))


@bp.get("/refresh")
def refresh_state():
    return jsonify(runs=[run_json(r) for r in in_flight_refresh_runs()])


@bp.post("/refresh")
@permission_required("trigger_runs")
def refresh():
    return respond(request_refresh(), single=False,
                   empty_message="No jobs are part of the global refresh (see Settings).")


@bp.get("/events")
def events():
    """Runs that started or finished since the cursor, for toasts on every page."""
    now = utcnow()
    since_raw = request.args.get("since")
    try:
        since = datetime.fromisoformat(since_raw.rstrip("Z")) if since_raw else now
    except ValueError:
        abort(400, "'since' must be an ISO time")
    window = since - EVENT_OVERLAP
    runs = db.session.scalars(
        select(Run).where(or_(Run.started_at > window, Run.finished_at > window)).order_by(Run.id.desc()).limit(50)
    ).all()
    items = []
    for run in runs:
        if run.finished_at and run.finished_at > window:
            items.append({"key": f"{run.id}:end", "kind": "finished", "message": outcome_sentence(run),
                          "at": iso(run.finished_at), **_brief(run)})
        elif run.started_at and run.started_at > window:
            items.append({"key": f"{run.id}:start", "kind": "started", "at": iso(run.started_at),
                          "message": f"{run_json(run)['title']} started ({run.trigger})", **_brief(run)})
    return jsonify(now=iso(now), events=items)


def _brief(run):
    data = run_json(run)
    return {k: data[k] for k in ("id", "job_id", "title", "status", "url", "trigger")}
