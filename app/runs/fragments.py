"""HTML fragments polled and swapped in by htmx: the Refresh Data button, a run's panel, its log tail, cron preview.

Starting runs stays with the routes that already do it (POST /api/refresh, Run now, the connector pages):
for an htmx request respond() renders the fragments below, which then poll these endpoints.
"""
import json

from flask import Blueprint, abort, make_response, render_template, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from ..extensions import db
from ..filters import run_ids_arg
from .models import TERMINAL, Run, RunLog
from .refresh import in_flight_refresh_runs
from .schedules import ScheduleError, describe, next_fire_times
from .views import job_title, outcome_sentence

bp = Blueprint("fragments", __name__, url_prefix="/fragments")

MAX_LOG_LINES = 1000
# htmx stops an `every` poll when the answer has this status.
STOP_POLLING = 286
TOAST_KIND = {"succeeded": "success", "failed": "danger", "cancelled": "warning"}


@bp.errorhandler(HTTPException)
def _fragment_error(exc):
    """Errors as a small fragment (htmx swaps 4xx fragments in place), never the full error page."""
    return render_template("runs/_run_error.html", message=exc.description or exc.name), exc.code or 500


@bp.app_template_global()
def cron_preview(cron, tz_name=""):
    """The cron in words with its next fire times, {"error": …} when invalid, None when blank."""
    if not (cron or "").strip():
        return None
    try:
        times = next_fire_times(cron, tz_name, 3)
    except ScheduleError as exc:
        return {"error": str(exc)}
    return {"words": describe(cron), "next": times}


@bp.app_template_global()
def run_outcome(run):
    """The outcome sentence of a finished run (None while it is in flight)."""
    return outcome_sentence(run) if run.status in TERMINAL else None


bp.add_app_template_global(job_title, "job_title")
# The navbar's Refresh Data button shows a refresh already in flight (another tab, user, a login) at once.
bp.add_app_template_global(in_flight_refresh_runs, "in_flight_refresh")



def _run_or_404(run_id):
    run = db.session.get(Run, run_id, populate_existing=True)
    if run is None:
        abort(404, f"No run {run_id}")
    return run


def _with_trigger(body, status=200, **events):
    """A fragment response that also fires events on the page (htmx's HX-Trigger header)."""
    response = make_response(body, status)
    if events:
        response.headers["HX-Trigger"] = json.dumps(events)  # ASCII-escaped: headers are latin-1
    return response


def _toast(run):
    return {"message": outcome_sentence(run), "kind": TOAST_KIND.get(run.status, "secondary"),
            "url": None if run.status == "succeeded" else f"/runs/{run.id}"}


@bp.get("/refresh")
def refresh_button():
    """The Refresh Data button for runs `ids` (busy while any is in flight), or for the refresh in flight now.

    The poll that first sees every run ended answers a last busy frame (the full count) carrying the
    outcome in HX-Trigger; that frame asks for the `done` state, which resets itself after 2 s.
    """
    ids = run_ids_arg()
    if not ids:
        return render_template("runs/_refresh_button.html", runs=in_flight_refresh_runs())
    runs = db.session.scalars(select(Run).where(Run.id.in_(ids)).order_by(Run.id)
                              .execution_options(populate_existing=True)).all()
    if not runs:  # purged meanwhile: show what is in flight now rather than an error in the navbar
        return render_template("runs/_refresh_button.html", runs=in_flight_refresh_runs())
    ended = all(run.status in TERMINAL for run in runs)
    if not ended or request.args.get("done"):
        return render_template("runs/_refresh_button.html", runs=runs, state="done" if ended else "busy")
    body = render_template("runs/_refresh_button.html", runs=runs, state="finishing")
    return _with_trigger(body, **{"runs-finished": {
        "toasts": [_toast(run) for run in runs],
        "succeeded": all(run.status == "succeeded" for run in runs)}})


@bp.get("/runs/<int:run_id>/panel")
def run_panel(run_id):
    """A run's live panel; it stops polling once the run has ended, and its end refreshes the data area
    (a success always; any end where the page asks for it: data_area(on_any_end=true))."""
    run = _run_or_404(run_id)
    body = render_template("runs/_run_panel.html", runs=[run])
    events = {}
    if run.status in TERMINAL:
        events["run-ended"] = {"run_id": run.id, "status": run.status}
    if run.status == "succeeded":
        events["run-succeeded"] = {"run_id": run.id}
    return _with_trigger(body, **events)


@bp.get("/runs/<int:run_id>/tail")
def run_tail(run_id):
    """Log lines after `after` (appended to #run-log) and the run's facts (out-of-band swaps).

    The status is read before the lines: the executor writes a run's last lines with its end, so
    an ended run whose lines fit one answer is drained, and that answer stops the poll (286).
    `seen` is the status the page showed last: an end seen live is announced with a toast.
    """
    run = _run_or_404(run_id)
    after = request.args.get("after", 0, type=int)
    lines = db.session.scalars(select(RunLog).where(RunLog.run_id == run_id, RunLog.seq > after)
                               .order_by(RunLog.seq).limit(MAX_LOG_LINES)).all()
    ended = run.status in TERMINAL
    ended_now = ended and request.args.get("seen") not in TERMINAL
    more = len(lines) == MAX_LOG_LINES
    drained = ended and not more
    body = render_template("runs/_run_tail.html", run=run, lines=lines, more=more, drained=drained,
                           ended_now=ended_now, after=lines[-1].seq if lines else after)
    events = {}
    if ended_now:
        events["runs-finished"] = {"toasts": [{**_toast(run), "url": None}], "succeeded": run.status == "succeeded"}
    return _with_trigger(body, STOP_POLLING if drained else 200, **events)


@bp.get("/schedules/preview")
def schedule_preview():
    """The cron preview of the schedule forms; a 400 with the message for an invalid cron or timezone."""
    preview = cron_preview(request.args.get("cron", ""), request.args.get("timezone", ""))
    body = render_template("runs/_cron_preview.html", preview=preview)
    return body, 400 if preview and preview.get("error") else 200
