"""The Records page every push connector gets: ledger rows by stream and status, retry/ignore, CSV."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ...auth.permissions import permission_required
from ...exports import csv_response
from ...extensions import db
from ...filters import page_args, text_arg
from ...settings import localtime
from . import push
from .push_models import STATUSES, SyncRecord

bp = Blueprint("records", __name__, url_prefix="/records")

FILTERS = ("connector", "stream", "status", "q")
CSV_HEADER = ["id", "connector", "stream", "source_key", "status", "target_id", "message", "attempts",
              "last_attempt_at", "synced_at"]


def _filters(source):
    """The list's filters (from the query string or a posted form); a bad status is a 400."""
    values = {name: (source.get(name) or "").strip()[:200] for name in FILTERS}
    if values["status"] and values["status"] not in STATUSES:
        abort(400, f"'status' must be one of {', '.join(STATUSES)}")
    return values


@bp.get("/")
def index():
    filters = {**_filters(request.args), "q": text_arg("q")}
    page, per_page = page_args()
    query = push.matching(**filters).order_by(SyncRecord.id)
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    return render_template("records/index.html", pagination=pagination, filters=filters, statuses=STATUSES,
                           counts=push.counts(filters["connector"] or None, filters["stream"] or None),
                           export_args={k: v for k, v in filters.items() if v})


@bp.get("/export.csv")
def export_csv():
    query = push.matching(**_filters(request.args)).order_by(SyncRecord.id)
    return csv_response(query, CSV_HEADER, _csv_row, "records.csv")


def _csv_row(row):
    r = row[0]
    return [r.id, r.connector, r.stream, r.source_key, r.status, r.target_id, r.message, r.attempts,
            localtime(r.last_attempt_at) if r.last_attempt_at else "", localtime(r.synced_at) if r.synced_at else ""]


@bp.post("/retry")
@permission_required("trigger_runs")
def retry():
    return _bulk(push.retry, "set back to pending: the next run sends them")


@bp.post("/ignore")
@permission_required("trigger_runs")
def ignore():
    return _bulk(push.ignore, "ignored: no run sends them until they are retried")


def _bulk(action, outcome):
    """Apply action to the ticked records, or to every record matching the filter with all=1."""
    filters = _filters(request.form)
    if request.form.get("all") == "1":
        changed = action(**filters)
    else:
        ids = _ids(request.form.getlist("ids"))
        changed = action(ids=ids)
    db.session.commit()
    flash(f"{changed:,} record(s) {outcome}.", "success" if changed else "info")
    return redirect(url_for(".index", **{k: v for k, v in filters.items() if v})), 303


def _ids(raw):
    if not raw:
        abort(400, "Tick at least one record, or choose every record matching the filter.")
    try:
        return [int(value) for value in raw]
    except ValueError:
        abort(400, "Record ids must be whole numbers.")
