"""UISP pages: customers (+ CSV), customer detail and its refresh, suspensions, suspend/reactivate."""
from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, select

from ...auth import activity
from ...auth.permissions import permission_required
from ...runs.freshness import connector_freshness
from ...errors import wants_json as _accepts_json
from ...exports import csv_response
from ...extensions import db
from ...filters import choice_arg, page_args, text_arg
from ...runs.models import Run
from ...runs.trigger import RunRequestError, refused, request_run, respond
from ...runs.views import run_json
from . import queries, suspensions as susp
from .client import UispClient, UispError
from .models import SERVICE_STATUSES, Customer, Service, ServiceStatus

bp = Blueprint("uisp", __name__, url_prefix="/uisp", template_folder="templates")

YES_NO = ("yes", "no")
ACCOUNT_STATUSES = ("active", "archived", "all")
TABS = ("due", "suspended")
# kind → (UISP action path, request body, activity action, past tense for messages)
SERVICE_ACTIONS = {
    "suspend": ("suspend", {"suspensionReasonId": None}, "service_suspended", "suspended"),
    "reactivate": ("cancel-suspend", None, "service_reactivated", "reactivated"),
}


class ListPagination(Pagination):
    """A page of a list computed in Python (rules SQL cannot express), for the pager macro."""

    def _query_items(self):
        items = self._query_args["items"]
        return items[self._query_offset:self._query_offset + self.per_page]

    def _query_count(self):
        return len(self._query_args["items"])


@bp.context_processor
def _helpers():
    return {"money": queries.money, "invoice_state": queries.invoice_state, "vip_grace": queries.vip_grace,
            "is_overdue": queries.is_overdue,
            "service_status_name": lambda s: SERVICE_STATUSES.get(s, f"Status {s}"), "summary": queries.summary,
            "ServiceStatus": ServiceStatus}


def wants_json():
    """A fetch() call (JSON body or Accept) gets JSON back; a plain form post gets a redirect."""
    return request.is_json or _accepts_json()


def _customer_filters():
    """The customer list's filters from the query string; a bad value is a 400 naming the choices."""
    return {"q": text_arg("q"), "status": choice_arg("status", ACCOUNT_STATUSES) or "active",
            "vip": choice_arg("vip", YES_NO), "risky": choice_arg("risky", YES_NO),
            "overdue": choice_arg("overdue", YES_NO)}


@bp.get("/customers")
def customers():
    filters = _customer_filters()
    page, per_page = page_args()
    query = queries.customer_query(filters, queries.business_today())
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    ids = [c.id for c in pagination.items]
    return render_template("uisp/customers.html", pagination=pagination, filters=filters,
                           counts=queries.service_counts(ids), risky=queries.risky_ids(ids),
                           freshness=connector_freshness("uisp"),
                           export_args={k: v for k, v in filters.items() if v})


@bp.get("/customers.csv")
def customers_csv():
    query = queries.csv_query(_customer_filters(), queries.business_today())
    return csv_response(query, queries.CSV_HEADER, queries.csv_row, "uisp-customers.csv")


@bp.get("/customers/<int:client_id>")
def customer(client_id):
    rule = queries.pattern_rule()
    detail = queries.customer_detail(client_id)
    if detail is None:
        abort(404, f"Customer {client_id} is not in the cache. Refresh UISP data, or check the id.")
    run_id = request.args.get("run", type=int)
    run = db.session.get(Run, run_id) if run_id else None
    return render_template("uisp/customer.html", **detail, rule=rule, today=queries.business_today(),
                           counts=queries.service_counts([client_id]).get(client_id, {}),
                           freshness=connector_freshness("uisp"), run=run)


@bp.post("/customers/<int:client_id>/refresh")
@permission_required("trigger_runs")
def refresh_customer(client_id):
    back = url_for(".customer", client_id=client_id)
    try:
        run, created = request_run("uisp.refresh_customer", {"client_id": client_id})
    except RunRequestError as exc:
        return refused(exc, back=back)
    return respond([(run, created)], back=url_for(".customer", client_id=client_id, run=run.id))


@bp.get("/suspensions")
def suspensions():
    tab = choice_arg("tab", TABS) or "due"
    page, per_page = page_args()
    today = queries.business_today()
    due = susp.due_for_suspension(today)  # both tabs show its count; the rule needs Python, so it is a list
    suspended_query = susp.suspended_now_query()
    if tab == "due":
        pagination = ListPagination(page=page, per_page=per_page, error_out=False, items=due)
        susp.name_oldest_invoices(pagination.items, today)
        ids = [row.customer.id for row in pagination.items]
    else:
        pagination = db.paginate(suspended_query, page=page, per_page=per_page, error_out=False)
        ids = [c.id for c in pagination.items]
    return render_template("uisp/suspensions.html", tab=tab, pagination=pagination, today=today,
                           services=susp.services_by_customer(ids), due_total=len(due),
                           suspended_total=db.session.scalar(select(func.count()).select_from(
                               suspended_query.subquery())),
                           freshness=connector_freshness("uisp"))


@bp.post("/services/<int:service_id>/suspend")
@permission_required("trigger_runs")
def suspend_service(service_id):
    return _service_action(service_id, "suspend")


@bp.post("/services/<int:service_id>/reactivate")
@permission_required("trigger_runs")
def reactivate_service(service_id):
    return _service_action(service_id, "reactivate")


def _service_action(service_id, kind):
    """Ask UISP to suspend/reactivate a service, then queue a refresh of its customer.

    The cache is never edited here: the refresh writes it under the "uisp" lock, so it cannot
    race a full refresh that is merging at the same moment.
    """
    service = db.session.get(Service, service_id)
    if service is None:
        abort(404, f"Service {service_id} is not in the cache.")
    path, body, action, done = SERVICE_ACTIONS[kind]
    try:
        with UispClient.from_config(current_app.config) as client:
            client.patch(f"/clients/services/{service_id}/{path}", body)
    except UispError as exc:
        db.session.rollback()  # the cache stays as it was: UISP refused or could not be reached
        return _action_failed(str(exc))
    customer = db.session.get(Customer, service.client_id)
    who = f"client {service.client_id} {customer.name if customer else '(not cached)'}"
    activity.record(action, target=f"service {service_id}", detail=f"{who}: {service.name} {done}")
    run, _created = request_run("uisp.refresh_customer", {"client_id": service.client_id},
                                note=f" after service {service_id} {done}")
    message = f"Service {service_id} ({service.name}) of {who} {done}; refreshing the customer: run {run.id}."
    if wants_json():
        return jsonify(service_id=service.id, message=message, run=run_json(run)), 202
    flash(message, "success")
    return redirect(_back()), 303


def _action_failed(message):
    if wants_json():
        return jsonify(error=message, status=502), 502
    flash(message, "danger")
    return redirect(_back()), 303


def _back():
    """Where the form came from (a local path only), else the suspensions page."""
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for(".suspensions")
