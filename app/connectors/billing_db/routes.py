"""Bill-stop pages: the analysis (statistics, summary, details), Refresh Data, exports, batch history, compare."""
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ...auth import activity
from ...auth.permissions import permission_required
from ...runs.freshness import connector_freshness
from ...errors import wants_json
from ...extensions import db
from ...filters import page_args
from ...runs.registry import JobError
from ...runs.service import enqueue, find_in_flight, wake_executor
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


def start_batch_run():
    """Queue the batch, or find the run already in flight; record who asked and wake the executor."""
    try:
        run, created = enqueue(queries.JOB_ID, {}, trigger="manual", requested_by=current_user.username)
    except JobError as exc:
        abort(400, str(exc))
    if created:
        activity.record("run_triggered", target=queries.JOB_ID, detail=f"run {run.id} from the bill-stop page")
    db.session.commit()
    wake_executor()
    return run, created


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
    run, created = start_batch_run()
    if request.is_json or wants_json():
        return jsonify(run_id=run.id, url=url_for("runs.run_detail", run_id=run.id),
                       status_url=url_for("api.run_status", run_id=run.id), status=run.status,
                       created=created), 202 if created else 200
    flash(f"Bill stop batch {'queued' if created else 'already in flight'}: run {run.id}.",
          "success" if created else "info")
    return redirect(url_for(".analysis")), 303


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
