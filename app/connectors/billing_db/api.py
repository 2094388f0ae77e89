"""JSON endpoints of the bill-stop tool (seed 001's routes): analysis, trigger, status, history."""
from flask import Blueprint, abort, jsonify, request, url_for
from sqlalchemy import select

from ...auth.permissions import permission_required
from ...runs.models import ACTIVE
from ...runs.trigger import RunRequestError, refused, request_run, respond
from ...runs.views import iso, run_json
from . import queries
from .models import BillStopBatch
from .routes import NO_BATCH, page_number

bp = Blueprint("billing_api", __name__, url_prefix="/api/billing")

DEFAULT_PER_PAGE = 100


def _page_args():
    """page (1 or more) and per_page (1 to 500) from the query string, 400 when out of bounds."""
    values = {}
    for name, default in (("page", 1), ("per_page", DEFAULT_PER_PAGE)):
        raw = request.args.get(name, str(default)).strip()
        if not raw.isdigit():
            abort(400, f"'{name}' must be a whole number, got {raw[:40]!r}")
        values[name] = int(raw)
    if values["page"] < 1 or not 1 <= values["per_page"] <= queries.MAX_PER_PAGE:
        abort(400, f"'page' must be 1 or more and 'per_page' between 1 and {queries.MAX_PER_PAGE}")
    return values["page"], values["per_page"]


def _day(value):
    return value.isoformat() if value else None


def batch_json(batch):
    """A batch log row as JSON; `url` views it while its rows are kept."""
    if batch is None:
        return None
    kept = batch.status == queries.KEPT
    return {"id": batch.id, "batch_date": _day(batch.batch_date), "status": batch.status, "run_id": batch.run_id,
            "run_url": url_for("runs.run_detail", run_id=batch.run_id) if batch.run_id else None,
            "started_at": iso(batch.started_at), "finished_at": iso(batch.finished_at),
            "duration_seconds": batch.duration_seconds,
            "window": {"from": _day(batch.window_start), "to": _day(queries.window_last_day(batch))},
            "summary_count": batch.summary_count, "details_count": batch.details_count,
            "bill_stop_count": batch.bill_stop_count, "error": batch.error or None,
            "url": url_for("billing.analysis", batch=batch.id) if kept else None}


def detail_json(d):
    return {"cpc_customer_no": d.cpc_customer_no, "legacy_no": d.legacy_no, "customer_name": d.customer_name,
            "crp_account_no": d.crp_account_no, "address": d.address, "last_bill_date": _day(d.last_bill_date),
            "billing_status": d.billing_status, "is_bill_stop": d.is_bill_stop,
            "current_balance": f"{d.current_balance:.2f}"}


def summary_json(s):
    return {"crp_account_no": s.crp_account_no, "total_cpc_count": s.total_cpc_count,
            "bill_stop_count": s.bill_stop_count, "active_billing_count": s.active_billing_count,
            "bill_stop_percentage": float(s.bill_stop_percentage)}


def _page_json(pagination, to_json):
    return {"items": [to_json(x) for x in pagination.items], "page": pagination.page,
            "per_page": pagination.per_page, "total": pagination.total, "pages": pagination.pages}


@bp.get("/bill-stop-analysis")
def analysis():
    """The shown batch, its statistics, a page of its summary (spage) and a page of its filtered details."""
    batch = queries.batch_arg("batch") or queries.visible_batch()
    filters = queries.detail_filters()
    page, per_page = _page_args()
    if batch is None:
        return jsonify(batch=None, statistics=None, filters=filters, summary=None, items=[], page=page,
                       per_page=per_page, total=0, pages=0, message=NO_BATCH)
    summary = queries.paginate(queries.summary_query(batch.id), page_number("spage"), per_page, batch.summary_count)
    details = queries.paginate(queries.details_query(batch.id, filters), page, per_page,
                               queries.details_total(batch, filters))
    return jsonify(batch=batch_json(batch), statistics=queries.statistics(batch), filters=filters,
                   summary=_page_json(summary, summary_json), **_page_json(details, detail_json))


@bp.post("/bill-stop-batch/trigger")
@permission_required("trigger_runs")
def trigger():
    """202 with the queued run, or 200 with the run already in flight."""
    try:
        return respond([request_run(queries.JOB_ID, note=" from the API")])
    except RunRequestError as exc:
        return refused(exc)


@bp.get("/bill-stop-batch/status")
def status():
    """The current or last run of the batch, the visible batch and the next scheduled run."""
    run = queries.last_run()
    schedule = queries.schedule_info()
    return jsonify(running=run is not None and run.status in ACTIVE, run=run_json(run) if run else None,
                   batch=batch_json(queries.visible_batch()),
                   next_run=schedule["next"].isoformat() if schedule else None,
                   schedule=schedule["words"] if schedule else None)


@bp.get("/bill-stop-batch/history")
def history():
    """The batch log, newest first, a page at a time."""
    page, per_page = _page_args()
    query = select(BillStopBatch).order_by(BillStopBatch.id.desc())
    return jsonify(**_page_json(queries.paginate(query, page, per_page), batch_json))
