"""CRM bridge pages: Inspect (the ledger per step), Mappings, Deals, Minimum ids and the Data explorer.

Anyone signed in may look; changing mappings, deals and minimum ids needs edit_connections, as does
the explorer (it shows the customer's data); running the cycle and retry/ignore need trigger_runs.
"""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import delete, func, select

from ...auth import activity
from ...auth.permissions import permission_required
from ...db import begin_write, utcnow
from ...extensions import db
from ...runs.history import last_runs
from ...runs.models import Run
from ...runs.trigger import RunRequestError, refused, request_run, respond
from ..base.push_models import STATUSES, SyncRecord
from . import explorer, source
from .client import CrmClient, CrmError
from .jobs import STREAMS
from .models import CrmDealTrigger, CrmMapping, CrmMinimumId
from .records import CONNECTOR, MAPPING_KINDS

bp = Blueprint("crm", __name__, url_prefix="/crm", template_folder="templates")

CYCLE = ("crm.dedupe_members", "crm.contacts", "crm.products", "crm.store_invoices", "crm.service_invoices",
         "crm.receipts")
MINIMUM_ID_TABLES = ("membership", "service", "invoiceHed", "ServiceInvoice", "receipt")
# Where the CRM lists the ids a mapping kind points at (shown beside the form).
TARGET_LOOKUPS = {"gender": "/api/genders", "organization": "/api/organizations", "bank_account": "/api/bank-accounts"}
PROBLEMS_SHOWN = 15


# --- Inspect ---------------------------------------------------------------------------------------

@bp.get("/")
def inspect():
    rows = db.session.execute(select(SyncRecord.stream, SyncRecord.status, func.count())
                              .where(SyncRecord.connector == CONNECTOR)
                              .group_by(SyncRecord.stream, SyncRecord.status)).all()
    counts = {stream: dict.fromkeys(STATUSES, 0) for stream in STREAMS}
    for stream, status, n in rows:
        counts.setdefault(stream, dict.fromkeys(STATUSES, 0))[status] = n
    problems = db.session.scalars(select(SyncRecord).where(
        SyncRecord.connector == CONNECTOR, SyncRecord.status.in_(("failed", "skipped")))
        .order_by(SyncRecord.updated_at.desc(), SyncRecord.id.desc()).limit(PROBLEMS_SHOWN)).all()
    in_flight = db.session.scalars(select(Run).where(Run.job_id.in_(CYCLE), Run.finished_at.is_(None))
                                   .order_by(Run.id)).all()
    return render_template("crm/inspect.html", counts=counts, statuses=STATUSES, problems=problems,
                           cycle=CYCLE, last=last_runs(CYCLE), in_flight=in_flight)


@bp.post("/run")
@permission_required("trigger_runs")
def run_cycle():
    """Queue the cycle's first step; each next step is queued when the one before succeeds."""
    try:
        run, created = request_run(CYCLE[0])
    except RunRequestError as exc:
        return refused(exc, back=url_for(".inspect"))
    return respond([(run, created)], back=url_for(".inspect"))


# --- Mappings --------------------------------------------------------------------------------------

def _kind_arg(raw):
    kind = (raw or "gender").strip()
    if kind not in MAPPING_KINDS:
        abort(400, f"'kind' must be one of {', '.join(MAPPING_KINDS)}")
    return kind


@bp.get("/mappings")
def mappings():
    kind = _kind_arg(request.args.get("kind"))
    stored = {m.source_value: m.target_value for m in db.session.scalars(
        select(CrmMapping).where(CrmMapping.kind == kind).order_by(CrmMapping.source_value))}
    discovered, problem = [], None
    if request.args.get("discover") == "1":
        discovered, problem = _discover(kind)
    values = sorted(set(stored) | set(discovered), key=_natural)
    return render_template("crm/mappings.html", kind=kind, kinds=MAPPING_KINDS, values=values, stored=stored,
                           new=set(discovered) - set(stored), problem=problem, targets=_crm_targets(kind),
                           discovered=request.args.get("discover") == "1")


def _natural(value):
    return (0, int(value), "") if value.lstrip("-").isdigit() else (1, 0, value)


def _discover(kind):
    """The distinct values of the kind's source column ('Load & Discover'), or the reason there are none."""
    _label, table, column = MAPPING_KINDS[kind]
    try:
        with source.connect(current_app.config["CRM_SOURCE_URL"]) as conn:
            values = [str(v) for v in conn.scalars(source.distinct_values(table, column))]
            conn.rollback()
        return values, None
    except Exception as exc:  # a missing URL or any driver error: say it, keep the page
        return [], f"Could not read {table}.{column} from the source: {exc}"


def _crm_targets(kind):
    """[(id, title)] the CRM offers for this kind, when it can be asked; [] otherwise."""
    path = TARGET_LOOKUPS.get(kind)
    if not path or not current_app.config.get("CRM_BASE_URL"):
        return []
    try:
        with CrmClient.from_config({**current_app.config, "CRM_RETRIES": 0, "CRM_TIMEOUT": 5.0}) as client:
            return [(str(o["id"]), o.get("title", "")) for o in client.get(path)]
    except CrmError:
        return []


@bp.post("/mappings")
@permission_required("edit_connections")
def save_mappings():
    kind = _kind_arg(request.form.get("kind"))
    sources, targets = request.form.getlist("source_value"), request.form.getlist("target_value")
    if len(sources) != len(targets) or len(sources) > 1000:
        abort(400, "Send one target value per source value (at most 1,000).")
    pairs = {s.strip()[:100]: t.strip() for s, t in zip(sources, targets) if s.strip()}
    bad = [f"{s} → {t!r}" for s, t in pairs.items() if t and not t.isdigit()]
    if bad:
        abort(400, f"A CRM id is a whole number: {', '.join(bad[:5])}")
    existing = {m.source_value: m for m in db.session.scalars(select(CrmMapping).where(CrmMapping.kind == kind))}
    changed = []
    for value, target in pairs.items():
        row = existing.get(value) or CrmMapping(kind=kind, source_value=value, target_value="")
        if row.target_value != target or value not in existing:
            changed.append(f"{value}: {row.target_value or '—'} → {target or '—'}")
            row.target_value, row.updated_at, row.updated_by = target, utcnow(), current_user.username
            db.session.add(row)
    activity.record("crm_mapping_saved", target=kind, detail="; ".join(changed) or "no change")
    db.session.commit()
    flash(f"Saved {len(changed)} change(s) to the {MAPPING_KINDS[kind][0].lower()} mapping."
          + (" Records they touch are sent again on the next cycle." if changed else ""), "success")
    return redirect(url_for(".mappings", kind=kind), 303)


# --- Deals -----------------------------------------------------------------------------------------

@bp.get("/deals")
def deals():
    triggers = db.session.scalars(select(CrmDealTrigger).order_by(CrmDealTrigger.service_id)).all()
    return render_template("crm/deals.html", triggers=triggers, funnels=_funnels())


def _funnels():
    """{funnel id: (title, {level id: title})} from the CRM, or None when it cannot be asked."""
    if not current_app.config.get("CRM_BASE_URL"):
        return None
    try:
        with CrmClient.from_config({**current_app.config, "CRM_RETRIES": 0, "CRM_TIMEOUT": 5.0}) as client:
            return {f["id"]: (f["title"], {lv["id"]: lv["title"] for lv in f.get("levels", [])})
                    for f in client.get("/api/funnels")}
    except CrmError:
        return None


def _whole(name, minimum=1):
    raw = (request.form.get(name) or "").strip()
    if not raw.isdigit() or int(raw) < minimum:
        abort(400, f"'{name}' must be a whole number of at least {minimum}")
    return int(raw)


@bp.post("/deals")
@permission_required("edit_connections")
def save_deal():
    service_id, funnel_id, level_id = _whole("service_id"), _whole("funnel_id"), _whole("funnel_level_id")
    funnels = _funnels()
    if funnels is not None and (funnel_id not in funnels or level_id not in funnels[funnel_id][1]):
        abort(400, f"The CRM has no level {level_id} in funnel {funnel_id}.")
    trigger = db.session.get(CrmDealTrigger, service_id) or CrmDealTrigger(service_id=service_id)
    trigger.funnel_id, trigger.funnel_level_id = funnel_id, level_id
    trigger.updated_at, trigger.updated_by = utcnow(), current_user.username
    db.session.add(trigger)
    activity.record("crm_deal_trigger_saved", target=f"service {service_id}",
                    detail=f"funnel {funnel_id}, level {level_id}")
    db.session.commit()
    flash(f"Invoices with service {service_id} now create a deal in funnel {funnel_id}, level {level_id}.", "success")
    return redirect(url_for(".deals"), 303)


@bp.post("/deals/<int:service_id>/delete")
@permission_required("edit_connections")
def delete_deal(service_id):
    if db.session.execute(delete(CrmDealTrigger).where(CrmDealTrigger.service_id == service_id)).rowcount == 0:
        abort(404, f"No deal trigger for service {service_id}.")
    activity.record("crm_deal_trigger_deleted", target=f"service {service_id}")
    db.session.commit()
    flash(f"Service {service_id} no longer creates deals.", "success")
    return redirect(url_for(".deals"), 303)


# --- Minimum ids -----------------------------------------------------------------------------------

@bp.get("/minimum-ids")
def minimum_ids():
    stored = {m.table_name: m for m in db.session.scalars(select(CrmMinimumId))}
    return render_template("crm/minimum_ids.html", tables=MINIMUM_ID_TABLES, stored=stored)


@bp.post("/minimum-ids")
@permission_required("edit_connections")
def save_minimum_ids():
    changed = []
    for table in MINIMUM_ID_TABLES:
        raw = (request.form.get(table) or "0").strip()
        if not raw.isdigit():
            abort(400, f"The minimum id of {table} must be a whole number of 0 or more, not {raw!r}")
        row = db.session.get(CrmMinimumId, table) or CrmMinimumId(table_name=table, min_id=0)
        if row.min_id != int(raw):
            changed.append(f"{table}: {row.min_id} → {raw}")
            row.min_id, row.updated_at, row.updated_by = int(raw), utcnow(), current_user.username
            db.session.add(row)
    activity.record("crm_minimum_ids_saved", target="minimum ids", detail="; ".join(changed) or "no change")
    db.session.commit()
    flash(f"Saved: {'; '.join(changed)}." if changed else "No minimum id changed.", "success")
    return redirect(url_for(".minimum_ids"), 303)


# --- Data explorer ---------------------------------------------------------------------------------

@bp.get("/explorer")
@permission_required("edit_connections")
def data_explorer():
    args = request.args
    lookup, columns, rows, problem = None, [], [], None
    if args.get("table"):
        try:
            lookup = explorer.Lookup(table=args["table"], column=args.get("column", ""),
                                     operator=args.get("operator", "="), value=args.get("value", "").strip(),
                                     limit=_limit(args.get("limit"))).validated()
        except explorer.ExplorerError as exc:
            abort(400, str(exc))
        try:
            columns, rows = explorer.run(current_app.config["CRM_SOURCE_URL"], lookup,
                                         current_app.config["CRM_EXPLORER_TIMEOUT_MS"])
        except explorer.ExplorerError as exc:
            abort(400, str(exc))
        except Exception as exc:  # the source's own error (timeout, unreachable): shown, not a 500
            problem = f"The source database refused the query: {str(exc).splitlines()[0][:300]}"
        db.session.rollback()  # a fresh transaction for the audit: on SQLite a read's snapshot cannot become a write
        begin_write()  # …nor can the fresh one, once it has reloaded the signed-in user
        activity.record("crm_explorer_query", target=lookup.table,
                        detail=f"{lookup.column} {lookup.operator} {lookup.value!r} limit {lookup.limit}")
        db.session.commit()
    return render_template("crm/explorer.html", whitelist=explorer.WHITELIST, operators=explorer.OPERATORS,
                           lookup=lookup, columns=columns, rows=rows, problem=problem, max_rows=explorer.MAX_ROWS)


def _limit(raw):
    try:
        return int(raw or 50)
    except ValueError:
        raise explorer.ExplorerError("Rows must be a whole number") from None
