"""EPOS→QBO pages: Overview (KPIs of the target trading date, company cards, revenue chart), Companies
(search, filter, sort; onboarding and advanced settings are the company's connection form) and a
company's detail. Anyone signed in may look; runs need trigger_runs, company changes edit_connections."""
from datetime import datetime, timezone

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from sqlalchemy import select

from ... import settings
from ...auth.permissions import permission_required
from ...extensions import db
from ...filters import choice_arg, text_arg
from ...runs.models import Run
from ...runs.trigger import RunRequestError, refused, request_run, respond
from ..base.connections import connection_settings, find_spec
from . import ledger, views
from .models import EposQboReconciliation as Recon
from .tokens import HEALTH_STATES
from .trading import business_rules, parse_date, window

bp = Blueprint("epos_qbo", __name__, url_prefix="/epos-qbo", template_folder="templates",
               static_folder="static")

JOBS = ("epos_qbo.sync_all", "epos_qbo.sync_company")
SORTS = ("name", "key", "last_sync", "health")
HEALTH_ORDER = {s: n for n, s in enumerate(("refresh_expired", "missing_tokens", "missing_refresh_token",
                                            "refresh_expiring", "connected"))}
HISTORY_DAYS = 30


@bp.get("/")
def overview():
    day = _date_arg() or views.target_date()
    active = views.companies(active_only=True)
    latest = views.last_successful(c.key for c in active)
    on_day = views.latest_artifacts(day, day)
    days = views.expiring_days()
    cards = [(c, views.token_state(c, days), latest.get(c.key), on_day.get((c.key, day))) for c in active]
    in_flight = db.session.scalars(select(Run).where(Run.job_id.in_(JOBS), Run.finished_at.is_(None))
                                   .order_by(Run.id)).all()
    events = db.session.scalars(select(Run).where(Run.job_id.in_(JOBS)).order_by(Run.id.desc()).limit(10)).all()
    return render_template("epos_qbo/overview.html", day=day, kpis=views.day_kpis(day, active), cards=cards,
                           in_flight=in_flight, events=events, ranges=views.RANGES, default_range=views.DEFAULT_RANGE,
                           warning=float(settings.get("epos_qbo_recon_diff_warning")), companies=active,
                           window=window(day, *business_rules()))


@bp.get("/revenue.json")
def revenue():
    """The reconciled revenue chart's data (MATCH only, latest artifact per company and date)."""
    range_key = request.args.get("range", views.DEFAULT_RANGE)
    if range_key not in views.RANGES:
        return jsonify(error=f"range must be one of {', '.join(views.RANGES)}"), 400
    company = text_arg("company") or None
    return jsonify(views.revenue_series(range_key, company))


@bp.post("/run")
@permission_required("trigger_runs")
def run():
    """Queue a run for a trading date: every active company (company empty) or one."""
    company = (request.form.get("company") or "").strip()
    params = {"date": (request.form.get("date") or "").strip()}
    if company:
        params["company"] = company
    try:
        run, created = request_run("epos_qbo.sync_company" if company else "epos_qbo.sync_all", params)
    except RunRequestError as exc:
        return refused(exc, back=request.referrer or url_for(".overview"))
    return respond([(run, created)], back=request.referrer or url_for(".overview"))


@bp.get("/companies/")
def companies():
    q, state = text_arg("q"), choice_arg("active", ("active", "inactive"))
    health = choice_arg("health", HEALTH_STATES)
    sort = choice_arg("sort", SORTS) or "name"
    days = views.expiring_days()
    rows = []
    all_companies = views.companies()
    latest = views.last_successful(c.key for c in all_companies)
    tokens = {conn.key: views.token_state(conn, days) for conn in all_companies}  # one decryption each
    for conn in all_companies:
        if q and q.lower() not in f"{conn.display_name} {conn.key}".lower():
            continue
        if state and conn.active != (state == "active"):
            continue
        token = tokens[conn.key]
        if health and token[0] != health:
            continue
        rows.append((conn, token, latest.get(conn.key)))
    rows.sort(key=_sorter(sort), reverse=request.args.get("dir") == "desc")
    summary = {s: sum(1 for token in tokens.values() if token[0] == s) for s in HEALTH_STATES}
    return render_template("epos_qbo/companies.html", rows=rows, q=q or "", state=state or "", health=health or "",
                           sort=sort, direction=request.args.get("dir", "asc"), health_states=HEALTH_STATES,
                           summary=summary, total=len(all_companies), stale_hours=settings.get("epos_qbo_stale_hours_warning"),
                           now=datetime.now(timezone.utc).replace(tzinfo=None))


def _sorter(sort):
    if sort == "key":
        return lambda row: row[0].key
    if sort == "last_sync":
        return lambda row: (row[2].processed_at if row[2] else datetime.min)
    if sort == "health":
        return lambda row: (HEALTH_ORDER[row[1][0]], row[0].display_name.lower())
    return lambda row: (row[0].display_name.lower(), row[0].key)


@bp.get("/companies/<key>/")
def company(key):
    conn = next((c for c in views.companies() if c.key == key), None)
    if conn is None:
        abort(404, f"No company {key!r}.")
    last = views.target_date()
    history = views.company_history(key, HISTORY_DAYS)
    attempts = db.session.scalars(select(Recon).where(Recon.company == key)
                                  .order_by(Recon.processed_at.desc(), Recon.id.desc()).limit(20)).all()
    return render_template("epos_qbo/company.html", conn=conn, token=views.token_state(conn, views.expiring_days()),
                           options=connection_settings(conn, find_spec("epos_qbo")[1]), history=history,
                           attempts=attempts, problems=ledger.problems(key), target=last,
                           warning=float(settings.get("epos_qbo_recon_diff_warning")))


def _date_arg():
    raw = request.args.get("date")
    if not raw:
        return None
    try:
        return parse_date(raw)
    except ValueError as exc:
        abort(400, str(exc))
