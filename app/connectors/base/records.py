"""The Records page every push connector gets: ledger rows by stream and status, retry/ignore, CSV."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ...auth.permissions import permission_required
from ...exports import csv_response
from ...extensions import db
from ...filters import page_args
from ...settings import localtime
from . import push
from .push_models import STATUSES, SyncRecord

bp = Blueprint("records", __name__, url_prefix="/records")

FILTERS = ("connector", "stream", "status", "q")
CSV_HEADER = ["id", "connector", "stream", "source_key", "status", "target_id", "message", "attempts",
              "last_attempt_at", "synced_at"]
MAX_FILTER = 200


def _filters(source):
    """Read the list's filters (query string or posted form); a bad status or an overlong value is a 400."""
    values = {name: (source.get(name) or "").strip() for name in FILTERS}
    too_long = next((name for name, value in values.items() if len(value) > MAX_FILTER), None)
    if too_long:
        abort(400, f"'{too_long}' is longer than {MAX_FILTER} characters")
    if values["status"] and values["status"] not in STATUSES:
        abort(400, f"'status' must be one of {', '.join(STATUSES)}")
    return values


def _kept(filters):
    """The filters that are set, for links and redirects back to the same list."""
    return {k: v for k, v in filters.items() if v}


@bp.get("/")
def index():
    filters = _filters(request.args)
    page, per_page = page_args()
    query = push.matching(**filters).order_by(SyncRecord.id)
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    pairs = push.streams()
    return render_template("records/index.html", pagination=pagination, filters=filters, statuses=STATUSES,
                           counts=push.counts(filters["connector"] or None, filters["stream"] or None),
                           connectors=sorted({c for c, _ in pairs}), streams=sorted({s for _, s in pairs}),
                           kept=_kept(filters))


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
    """Apply action to the ticked records (ids), or to every record matching the filter with all=1."""
    # request.values: a row's own button carries its id and the filters in its URL, the bulk form in its body.
    filters = _filters(request.values)
    if request.values.get("all") == "1":
        changed = action(**filters)
    else:
        changed = action(ids=_ids(request.values.getlist("ids")))
    db.session.commit()
    flash(f"{changed:,} record(s) {outcome}.", "success" if changed else "info")
    return redirect(url_for(".index", **_kept(filters)), 303)


def _ids(raw):
    if not raw:
        abort(400, "Tick at least one record, or choose every record matching the filter.")
    try:
        return [int(value) for value in raw]
    except ValueError:
        abort(400, "Record ids must be whole numbers.")
