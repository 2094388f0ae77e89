"""Banking pages: Transactions (every line, its match and whether it reached UISP), a line's page (assign
it by hand), Imports (upload a statement; every file offered, accepted or rejected, with its counts),
Failed and History of the postings, and bulk reconciliations. Each table exports to CSV.

Anyone signed in may look. Importing needs trigger_runs; assigning, posting and reconciling need
post_payments.
"""
import csv
import io
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ...auth import activity
from ...auth.permissions import permission_required
from ...exports import csv_response
from ...extensions import db
from ...filters import choice_arg, page_args, text_arg
from ...runs.models import Run
from ...runs.registry import get_job
from ...runs.trigger import RunRequestError, params_with_files, refused, request_run, respond
from ..base import push
from ..base.connections import active_connections, connection_settings
from . import bulk, matching, views
from .accounts import CONNECTION, CONNECTOR
from .models import MATCH_STATUSES, BankLine, BulkReconciliation

bp = Blueprint("banking", __name__, url_prefix="/banking", template_folder="templates")

JOBS = ("banking.import_statement", "banking.match", "banking.post_payments", "banking.bulk_reconcile",
        "banking.bulk_rollback")
LINE_HEADER = ("booking_date", "account", "amount", "currency", "name", "reference", "remittance", "bank_reference",
               "match_status", "match_rule", "client_id", "invoices", "posting", "payment_id", "message")


def _in_flight(*job_ids):
    return db.session.scalars(select(Run).where(Run.job_id.in_(job_ids or JOBS), Run.finished_at.is_(None))
                              .order_by(Run.id)).all()


def _date(name):
    raw = text_arg(name)
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        abort(400, f"'{name}' must be a date as YYYY-MM-DD, got {raw[:40]!r}")


def _line_filters():
    return {"status": choice_arg("status", MATCH_STATUSES), "account": text_arg("account") or None,
            "q": text_arg("q") or None, "posted": choice_arg("posted", views.POST_STATES),
            "direction": choice_arg("direction", ("credit", "debit")), "since": _date("since"),
            "until": _date("until")}


def _line_cells(row):
    line, record = row
    return (line.booking_date, line.account, f"{line.amount:.2f}", line.currency, line.name, line.reference,
            line.remittance, line.bank_reference, line.match_status, line.match_rule, line.client_id or "",
            " ".join(str(i.get("number") or i["id"]) for i in line.invoices or []),
            record.status if record else "not_posted", record.target_id if record else "",
            record.message if record else "")


def _lines_page(template, filters, title, export_name, **extra):
    if request.args.get("format") == "csv":
        return csv_response(views.lines_query(**filters, with_ledger=True), LINE_HEADER, _line_cells, export_name)
    page, per_page = page_args()
    pagination = db.paginate(views.lines_query(**filters), page=page, per_page=per_page, error_out=False)
    ledger = views.ledger_rows(pagination.items)
    rows = [(line, ledger.get(line.identity)) for line in pagination.items]
    names = views.customers(line.client_id or line.suggested_client_id for line, _ in rows)
    accounts = [connection_settings(c, CONNECTION).get("account") for c in active_connections(CONNECTOR)]
    return render_template(template, rows=rows, pagination=pagination, names=names, filters=filters, title=title,
                           accounts=accounts, statuses=MATCH_STATUSES, post_states=views.POST_STATES,
                           in_flight=_in_flight(), **extra)


@bp.get("/")
def transactions():
    return _lines_page("banking/transactions.html", _line_filters(), "Transactions", "bank-transactions.csv")


@bp.get("/failed")
def failed():
    filters = {**_line_filters(), "posted": "failed"}
    return _lines_page("banking/transactions.html", filters, "Failed postings", "bank-failed.csv", failed_view=True)


@bp.get("/history")
def history():
    filters = {**_line_filters(), "posted": "synced"}
    return _lines_page("banking/transactions.html", filters, "Posting history", "bank-history.csv")


@bp.get("/lines/<int:line_id>")
def line(line_id):
    line = db.session.get(BankLine, line_id) or abort(404)
    record = views.ledger_row(line)
    names = views.customers([line.client_id, line.suggested_client_id])
    open_invoices = bulk.open_invoices_of([line.client_id]) if line.client_id else []
    recon = db.session.scalar(select(BulkReconciliation).where(BulkReconciliation.line_id == line.id))
    return render_template("banking/line.html", line=line, record=record, names=names, open_invoices=open_invoices,
                           recon=recon)


@bp.post("/lines/<int:line_id>/assign")
@permission_required("post_payments")
def assign(line_id):
    """Match a line to a customer by hand (and, optionally, to some of their open invoices)."""
    line = db.session.get(BankLine, line_id) or abort(404)
    back = url_for(".line", line_id=line.id)
    record = views.ledger_row(line)
    if record is not None and record.status in ("synced", "pending"):
        flash("This line is already posted to UISP (or being posted); it cannot be re-assigned.", "danger")
        return redirect(back), 303
    if line.amount <= 0 or line.match_status == "bulk":
        flash("Only a credit that is not part of a bulk reconciliation can be assigned.", "danger")
        return redirect(back), 303
    customer = views.customer_by_ref(request.form.get("customer"))
    if customer is None:
        flash(f"No UISP customer {request.form.get('customer', '')[:40]!r} (give the id or customer number).",
              "danger")
        return redirect(back), 400
    wanted = {n.strip() for n in (request.form.get("invoices") or "").replace(",", " ").split() if n.strip()}
    open_rows = bulk.open_invoices_of([customer.id])
    invoices = [{"id": i, "number": number, "cents": int(cents)} for i, number, _c, cents in open_rows
                if str(number) in wanted or str(i) in wanted]
    unknown = wanted - {str(i["number"]) for i in invoices} - {str(i["id"]) for i in invoices}
    if unknown:
        flash(f"Not open invoices of {customer.name}: {', '.join(sorted(unknown))}", "danger")
        return redirect(back), 400
    matching.assign(line, customer.id, invoices, current_user.username)
    activity.record("line_assigned", target=f"bank_line/{line.id}",
                    detail=f"{line.amount:.2f} → customer {customer.id} ({customer.name}); invoices "
                           f"{[i['number'] for i in invoices] or 'oldest first'}")
    db.session.commit()
    flash(f"Assigned to {customer.name}. Post payments to send it to UISP.", "success")
    return redirect(back), 303


@bp.post("/lines/set-aside")
@permission_required("post_payments")
def set_aside():
    """Ignore the chosen lines, or put them back to be matched again."""
    status = request.form.get("to")
    if status not in ("ignored", "unmatched"):
        abort(400, "'to' must be ignored or unmatched")
    try:
        ids = [int(i) for i in request.form.getlist("ids")]
    except ValueError:
        abort(400, "line ids must be whole numbers")
    if not ids:
        flash("Choose at least one line.", "warning")
        return redirect(request.referrer or url_for(".transactions")), 303
    changed = matching.set_aside(ids, status, current_user.username)
    activity.record("lines_set_aside", target="bank_lines", detail=f"{changed} line(s) → {status}: {ids[:20]}")
    db.session.commit()
    flash(f"{changed} line(s) set to {status}.", "success")
    return redirect(request.referrer or url_for(".transactions")), 303


@bp.post("/post")
@permission_required("post_payments")
def post_payments():
    """Queue the run that posts every matched credit to UISP."""
    return _queue_from_transactions("banking.post_payments")


@bp.post("/match")
@permission_required("post_payments")
def rematch():
    """Queue matching of the unmatched and review credits against the freshest UISP cache."""
    return _queue_from_transactions("banking.match")


def _queue_from_transactions(job_id):
    try:
        results = [request_run(job_id)]
    except RunRequestError as exc:
        return refused(exc, back=url_for(".transactions"))
    return respond(results, back=request.referrer or url_for(".transactions"))


@bp.post("/failed/retry")
@permission_required("post_payments")
def retry_failed():
    """Send failed postings again at the next posting run (all, or the chosen lines)."""
    ids = request.form.getlist("ids")
    if ids:
        identities = db.session.scalars(select(BankLine.identity).where(BankLine.id.in_([int(i) for i in ids]))).all()
        record_ids = db.session.scalars(select(push.SyncRecord.id).where(
            push.SyncRecord.connector == "banking", push.SyncRecord.source_key.in_(identities))).all()
        changed = push.retry(ids=record_ids)
    else:
        changed = push.retry(connector="banking", stream="payments", status="failed")
    db.session.commit()
    flash(f"{changed} posting(s) will be sent again by the next Post payments run.", "success")
    return redirect(url_for(".failed")), 303


# --- imports ---------------------------------------------------------------------------------------------

IMPORT_HEADER = ("id", "created_at", "filename", "format", "account", "status", "lines", "new", "duplicate",
                 "rejected", "reason", "imported_by", "run_id")


@bp.get("/imports")
def imports():
    if request.args.get("format") == "csv":
        return csv_response(views.imports_query(), IMPORT_HEADER, lambda r: (
            r[0].id, r[0].created_at, r[0].filename, r[0].format, r[0].account, r[0].status, r[0].lines_total,
            r[0].lines_new, r[0].lines_duplicate, r[0].lines_rejected, r[0].reason, r[0].imported_by, r[0].run_id),
            "bank-imports.csv")
    page, per_page = page_args()
    pagination = db.paginate(views.imports_query(), page=page, per_page=per_page, error_out=False)
    return render_template("banking/imports.html", pagination=pagination, accounts=active_connections(CONNECTOR),
                           in_flight=_in_flight("banking.import_statement", "banking.match"))


@bp.post("/imports")
@permission_required("trigger_runs")
def upload():
    """Store the uploaded statement and queue its import (the browser never waits for the parsing)."""
    job_def = get_job("banking.import_statement")
    try:
        params = params_with_files(job_def, {"account": (request.form.get("account") or "").strip()})
        if not params.get("statement"):
            raise RunRequestError("Choose a statement file (CSV, MT940, CAMT.053 or OFX) to import.")
        results = [request_run("banking.import_statement", params)]
    except RunRequestError as exc:
        return refused(exc, back=url_for(".imports"))
    return respond(results, back=url_for(".imports"))


# --- bulk reconciliation ---------------------------------------------------------------------------------

ALLOCATION_HEADER = ("position", "invoice_number", "invoice_id", "client_id", "amount", "status", "payment_id",
                     "message")


@bp.get("/bulk/")
def reconciliations():
    rows = db.session.execute(views.reconciliations_query().limit(200)).all()
    return render_template("banking/reconciliations.html", rows=rows)


@bp.get("/bulk/new")
def new_reconciliation():
    line = _deposit_line(request.args.get("line"))
    return render_template("banking/reconcile_new.html", line=line, problems=[], form={})


@bp.post("/bulk/new")
@permission_required("post_payments")
def create_reconciliation():
    """Build and check an allocation: all open invoices of some customers, or an uploaded CSV of shares."""
    line = _deposit_line(request.form.get("line"))
    try:
        shares = _shares_from_form()
        recon = bulk.create(line, shares, current_user.username)
    except bulk.AllocationError as exc:
        db.session.rollback()
        return render_template("banking/reconcile_new.html", line=line, problems=exc.problems,
                               form=request.form), 400
    db.session.commit()
    flash(f"Reconciliation #{recon.id}: {recon.invoices_total:,} invoices allocated and checked. Start it to post.",
          "success")
    return redirect(url_for(".reconciliation", recon_id=recon.id)), 303


def _deposit_line(raw):
    try:
        line = db.session.get(BankLine, int(raw or 0))
    except ValueError:
        abort(400, "'line' must be a statement line id")
    if line is None:
        abort(404, "No such statement line")
    return line


def _shares_from_form():
    """[(invoice id, number, client id, cents)] from the customers field or the allocation CSV."""
    uploaded = request.files.get("allocation")
    if uploaded is not None and uploaded.filename:
        return _shares_from_csv(uploaded.read())
    refs = [r for r in (request.form.get("customers") or "").replace(",", " ").split() if r]
    if not refs:
        raise bulk.AllocationError(["name the customers (ids or customer numbers) or upload an allocation CSV"])
    clients, unknown = [], []
    for ref in refs:
        customer = views.customer_by_ref(ref)
        (clients.append(customer.id) if customer is not None else unknown.append(ref))
    if unknown:
        raise bulk.AllocationError([f"no UISP customer {ref!r}" for ref in unknown[:20]])
    return [(iid, number, cid, int(cents)) for iid, number, cid, cents in bulk.open_invoices_of(clients)]


def _shares_from_csv(content):
    """An allocation CSV: a header with invoice_number and amount (decimal point), one invoice a row."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise bulk.AllocationError(["the allocation CSV is not UTF-8 text"]) from None
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.strip().lower(): f for f in reader.fieldnames or []}
    if "invoice_number" not in fields or "amount" not in fields:
        raise bulk.AllocationError([f"the allocation CSV needs the columns invoice_number and amount (found: "
                                    f"{', '.join(reader.fieldnames or []) or 'none'})"])
    wanted, problems = [], []
    for n, row in enumerate(reader, 2):
        number = (row[fields["invoice_number"]] or "").strip()
        try:
            cents = int(round(float((row[fields["amount"]] or "").strip()) * 100))
        except ValueError:
            problems.append(f"row {n}: amount {row[fields['amount']]!r} is not a number")
            continue
        wanted.append((number, cents))
    found = bulk.invoices_by_number(number for number, _ in wanted)
    shares = []
    for number, cents in wanted:
        invoice = found.get(number)
        if invoice is None:
            problems.append(f"invoice {number} is not known (refresh UISP data if it is new)")
            continue
        shares.append((invoice.id, number, invoice.client_id, cents))
    if problems:
        raise bulk.AllocationError(problems)
    return shares


@bp.get("/bulk/<int:recon_id>")
def reconciliation(recon_id):
    recon = db.session.get(BulkReconciliation, recon_id) or abort(404)
    query = views.allocations_query(recon.id)
    if request.args.get("format") == "csv":
        return csv_response(query, ALLOCATION_HEADER, lambda r: (
            r[0].position, r[0].invoice_number, r[0].invoice_id, r[0].client_id, f"{r[0].cents / 100:.2f}",
            r[0].status, r[0].payment_id or "", r[0].message), f"bulk-reconciliation-{recon.id}.csv")
    page, per_page = page_args()
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    run = db.session.get(Run, recon.run_id) if recon.run_id else None
    active = _in_flight("banking.bulk_reconcile", "banking.bulk_rollback")
    mine = [r for r in active if (r.params or {}).get("reconciliation") == recon.id]
    return render_template("banking/reconciliation.html", recon=recon, line=db.session.get(BankLine, recon.line_id),
                           pagination=pagination, run=run, in_flight=mine, counts=views.allocation_counts(recon.id))


@bp.post("/bulk/<int:recon_id>/start")
@permission_required("post_payments")
def start_reconciliation(recon_id):
    return _queue_bulk(recon_id, "banking.bulk_reconcile", ("draft", "rolled_back"))


@bp.post("/bulk/<int:recon_id>/rollback")
@permission_required("post_payments")
def rollback_reconciliation(recon_id):
    return _queue_bulk(recon_id, "banking.bulk_rollback", ("posting", "rollback_incomplete"))


def _queue_bulk(recon_id, job_id, allowed):
    recon = db.session.get(BulkReconciliation, recon_id) or abort(404)
    back = url_for(".reconciliation", recon_id=recon.id)
    if recon.status not in allowed:
        return refused(RunRequestError(f"Reconciliation #{recon.id} is {recon.status}; this needs it "
                                       f"{' or '.join(allowed)}."), back=back)
    try:
        results = [request_run(job_id, {"reconciliation": str(recon.id)})]
    except RunRequestError as exc:
        return refused(exc, back=back)
    return respond(results, back=back)
