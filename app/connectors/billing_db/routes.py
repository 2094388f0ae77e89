"""Bill-stop pages: the analysis (statistics, summary, details), Refresh Data, exports, batch history, compare."""
from flask import Blueprint, abort, render_template, request, url_for
from sqlalchemy import select

from ...auth.permissions import permission_required
from ...extensions import db
from ...filters import page_args
from ...runs.freshness import connector_freshness
from ...runs.service import find_in_flight
from ...runs.trigger import RunRequestError, refused, request_run, respond
from . import export, queries
from .models import BILLING_STATUSES, BillStopBatch

bp = Blueprint("billing", __name__, url_prefix="/billing", template_folder="templates")

SUMMARY_PER_PAGE = 20
COMPARE_PER_PAGE = 25
NO_BATCH = "No batch yet — Refresh Data or wait for the next scheduled run."


@bp.context_processor
def _helpers():
    return {"window_last_day": queries.window_last_day, "billing_statuses": BILLING_STATUSES}


def page_number(name):
    """A page number argument other than 'page' (the summary's and the comparison's), 400 when bad."""
    raw = request.args.get(name, "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 10 ** 9:
        abort(400, f"'{name}' must be a page number (1 or more), got {raw[:40]!r}")
    return int(raw)


@bp.get("/")
def analysis():
    batch = queries.batch_arg("batch")
    latest = queries.visible_batch()
    batch = batch or latest
    filters = queries.detail_filters()
    page, per_page = page_args()
    context = {"batch": batch, "latest": latest, "filters": filters, "run": find_in_flight(queries.JOB_ID),
               "schedule": queries.schedule_info(), "failure": queries.latest_failure_after(latest),
               "freshness": connector_freshness("billing")}
    if batch is not None:
        context.update(
            stats=queries.statistics(batch),
            summary=queries.paginate(queries.summary_query(batch.id), page_number("spage"), SUMMARY_PER_PAGE,
                                     batch.summary_count),
            details=queries.paginate(queries.details_query(batch.id, filters), page, per_page,
                                     queries.details_total(batch, filters)),
            export_args={k: v for k, v in {**filters, "batch": request.args.get("batch")}.items() if v})
    return render_template("billing/analysis.html", **context)


@bp.post("/batch/trigger")
@permission_required("trigger_runs")
def trigger():
    try:
        result = request_run(queries.JOB_ID, note=" from the bill-stop page")
    except RunRequestError as exc:
        return refused(exc, back=url_for(".analysis"))
    return respond([result], back=url_for(".analysis"))


def _export_batch():
    batch = queries.batch_arg("batch") or queries.visible_batch()
    if batch is None:
        abort(404, NO_BATCH)
    return batch


@bp.get("/export.csv")
def export_csv():
    batch = _export_batch()
    return export.csv_export(batch, queries.detail_filters())


@bp.get("/export.xlsx")
def export_xlsx():
    batch = _export_batch()
    return export.xlsx_export(batch, queries.detail_filters())


@bp.get("/batches")
def batches():
    page, per_page = page_args()
    pagination = db.paginate(select(BillStopBatch).order_by(BillStopBatch.id.desc()), page=page,
                             per_page=per_page, error_out=False)
    return render_template("billing/batches.html", pagination=pagination, visible=queries.visible_batch(),
                           freshness=connector_freshness("billing"))


@bp.get("/compare")
def compare():
    a, b = queries.compare_pair()
    context = {"a": a, "b": b, "kept": queries.kept_batches(), "per_page": COMPARE_PER_PAGE}
    if a is not None and b is not None:
        resolved = queries.paginate(queries.bill_stops_not_in(a.id, b.id), page_number("rpage"), COMPARE_PER_PAGE)
        context.update(
            new=queries.paginate(queries.bill_stops_not_in(b.id, a.id), page_number("npage"), COMPARE_PER_PAGE),
            resolved=resolved,
            now_status=queries.statuses_in(b.id, [d.cpc_customer_no for d in resolved.items]))
    return render_template("billing/compare.html", **context)
