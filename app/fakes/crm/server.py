"""The fake Asanito-style CRM: a Flask app over State, served threaded (requests overlap, as a real SaaS's do).

API (JSON; every /api/* route but login needs `Authorization: Bearer <token>`, else 401):
- POST /api/auth/login {mobile, password, customerId} -> 200 {access_token, token_type: "bearer", expires_in}
- GET  /api/contacts?mobile=|nationalCode=|externalId=    (a filter is required: 400 without)
- GET  /api/product-categories?title=|externalId=, /api/products?code=|externalId=,
       /api/invoices?number=|externalId=, /api/operating-incomes?externalId=, /api/deals?invoiceId=|externalId=
       -> the matching objects (all of them without a filter)
- POST /api/<entity> -> 201 the object stored with its "id"; PUT /api/<entity>/<id> -> 200 (contacts, products,
  invoices, operating-incomes): the fields sent replace the stored ones, the rest stay (the externalId, and
  an invoice's status); both are validated as a whole (rules.py) -> 422 {message, errors: {field: [text]}}
- an invoice is stored with "status": "draft" and its "total"; POST /api/invoices/<id>/confirm -> "confirmed"
  (again 200 when it already was)
- GET /api/funnels, /api/bank-accounts, /api/organizations, /api/genders: fixed lookups (lookups.py)
Every error answers JSON with a "message" (404 unknown id or route, 405, 400 a body that is no JSON object).

Controls (no auth): POST /__fake/reset (entities, tokens, faults, counters; lookups stay),
POST /__fake/expire_tokens, GET /__fake/truth, GET /__fake/entities/<entity>, and POST /__fake/faults,
whose JSON replaces the faults in force and restarts their counters:
- latency_ms: N          every /api/* request (login too) first waits N ms, outside the lock;
- throttle_every: N      every N-th /api/* request answers 429 with Retry-After: retry_after (default 1) s;
- fail_from: k           the k-th entity write since (create, update or confirm) and every later one answer 500,
  fail_count: n          ... or only n of them, then it heals;
- reject: {entity: [value, ...]}  a write of an object with this externalId (or contacts' mobile, invoices'
                         number, products' code, categories' title) answers 422 "Rejected by the test: value";
- drop_after_create: [value, ...] such a create is stored, then the connection is shut unanswered.
"""
import socket
import time

from flask import Flask, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, NotFound

# The house server: threaded werkzeug with Nagle off and keep-alive (NoDelayHandler), quiet logging.
from app.fakes.push_target.server import NoDelayHandler, serve  # noqa: F401 — re-exported for __main__

from .lookups import LOOKUPS
from .rules import check, invoice_total
from .state import ENTITIES, State

LOGIN = "/api/auth/login"
FILTERS = {"contacts": ("mobile", "nationalCode", "externalId"), "product-categories": ("title", "externalId"),
           "products": ("code", "externalId"), "invoices": ("number", "externalId"),
           "operating-incomes": ("externalId",), "deals": ("invoiceId", "externalId")}
FILTER_REQUIRED = ("contacts",)
UPDATABLE = ("contacts", "products", "invoices", "operating-incomes")
SINGULAR = {"contacts": "contact", "product-categories": "product category", "products": "product",
            "invoices": "invoice", "operating-incomes": "operating income", "deals": "deal"}
FAULT_NUMBERS = ("latency_ms", "throttle_every", "retry_after", "fail_from", "fail_count")


def error(status, message, **extra):
    return jsonify(message=message, **extra), status


def invalid(errors):
    return error(422, "Validation failed", errors=errors)


def create_fake_app(credentials, latency_ms=0):
    """The fake CRM's app, accepting credentials {mobile, password, customerId}; latency_ms is a startup fault."""
    app = Flask(__name__)
    st = State(credentials, {"latency_ms": latency_ms} if latency_ms else {})
    _add_gate(app, st)
    _add_entities(app, st)
    _add_invoice_confirm(app, st)
    _add_controls(app, st)
    _add_errors(app)
    return app


def _body():
    """The request's JSON object: anything else is refused before it reaches the state."""
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    return body


# ---------------------------------------------------------------------------------- login, auth, request faults
def _add_gate(app, st):
    @app.before_request
    def gate():
        """Latency, then the throttle, then the token: the order a real gateway applies them in."""
        if not request.path.startswith("/api/"):
            return None
        is_login = request.path == LOGIN and request.method == "POST"
        with st.lock:
            delay = st.latency()
        if delay:
            time.sleep(delay)  # without the lock: concurrent requests wait together
        with st.lock:
            if not st.admit("login" if is_login else request.method.lower()):
                response, status = error(429, "Too many requests")
                response.headers["Retry-After"] = st.retry_after()
                return response, status
            if not is_login and not st.authorized(request.headers.get("Authorization")):
                return error(401, "Token expired or invalid")
        return None

    @app.post(LOGIN)
    def login():
        body = request.get_json(force=True, silent=True)
        with st.lock:
            token = st.login(body if isinstance(body, dict) else {})
        if token is None:
            return error(401, "Invalid mobile, password or customer id")
        return jsonify(access_token=token, token_type="bearer", expires_in=3600)

    for name, rows in LOOKUPS.items():
        app.add_url_rule(f"/api/{name}", f"lookup_{name}", lambda rows=rows: jsonify(rows))


# ---------------------------------------------------------------------------------- entities
def _add_entities(app, st):
    def find(entity):
        filters = {f: request.args[f] for f in FILTERS[entity] if f in request.args}
        if not filters and entity in FILTER_REQUIRED:
            return error(400, f"Filter the {entity} by one of: {', '.join(FILTERS[entity])}")
        with st.lock:
            return jsonify(st.find(entity, filters))

    def create(entity):
        body = _body()
        with st.lock:
            refusal = _refusal(st, entity, body, creating=True)
            if refusal:
                return refusal
            stored = st.create(entity, _finished(entity, body, "draft"))
            drop = st.dropped(entity, stored)
        if drop:  # stored, but the caller never hears so: an unknown outcome
            # gunicorn's socket (python -m app.fakes.crm), or werkzeug's when served by its dev server
            connection = request.environ.get("gunicorn.socket") or request.environ["werkzeug.socket"]
            connection.shutdown(socket.SHUT_RDWR)
        return jsonify(stored), 201

    def update(entity, obj_id):
        body = _body()
        with st.lock:
            if st.write_fails():
                return error(500, "Internal server error")
            stored = st.store[entity].get(obj_id)
            if stored is None:
                return error(404, f"No {SINGULAR[entity]} with id {obj_id}")
            merged = {**stored, **body}
            refusal = _refusal(st, entity, merged, creating=False)
            if refusal:
                return refusal
            updated = st.replace(entity, obj_id, {**_finished(entity, merged, stored.get("status")), "id": obj_id})
            return jsonify(updated)

    for entity in ENTITIES:
        app.add_url_rule(f"/api/{entity}", f"find_{entity}", lambda e=entity: find(e))
        app.add_url_rule(f"/api/{entity}", f"create_{entity}", lambda e=entity: create(e), methods=["POST"])
        if entity in UPDATABLE:
            app.add_url_rule(f"/api/{entity}/<int:obj_id>", f"update_{entity}",
                             lambda obj_id, e=entity: update(e, obj_id), methods=["PUT"])


def _refusal(st, entity, obj, creating):
    """The error answer for this write, or None: the fail fault (a create counts here, an update before its
    404), then the reject fault, then validation."""
    if creating and st.write_fails():
        return error(500, "Internal server error")
    value = st.rejected(entity, obj)
    if value is not None:
        return invalid({"fake": [f"Rejected by the test: {value}"]})
    errors = check(entity, obj, st, creating)
    return invalid(errors) if errors else None


def _finished(entity, obj, status):
    """The object as stored: an invoice gets its status (draft, or kept on update) and its total."""
    if entity != "invoices":
        return dict(obj)
    return {**obj, "status": status, "total": invoice_total(obj)}


def _add_invoice_confirm(app, st):
    @app.post("/api/invoices/<int:invoice_id>/confirm")
    def confirm(invoice_id):
        """Idempotent, so a client that lost the answer can simply confirm again."""
        with st.lock:
            if st.write_fails():
                return error(500, "Internal server error")
            invoice = st.store["invoices"].get(invoice_id)
            if invoice is None:
                return error(404, f"No invoice with id {invoice_id}")
            return jsonify(st.replace("invoices", invoice_id, {**invoice, "status": "confirmed"}))


# ---------------------------------------------------------------------------------- controls and errors
def _add_controls(app, st):
    @app.post("/__fake/faults")
    def faults():
        body = request.get_json(force=True, silent=True)
        body = {} if body is None else body
        if not isinstance(body, dict) or not all(_is_number(body.get(k)) for k in FAULT_NUMBERS if k in body):
            return error(400, f"Faults are a JSON object; {', '.join(FAULT_NUMBERS)} are numbers")
        with st.lock:
            st.set_faults(body)
        return jsonify(ok=True)

    @app.post("/__fake/reset")
    def reset():
        with st.lock:
            st.reset()
        return jsonify(ok=True)

    @app.post("/__fake/expire_tokens")
    def expire_tokens():
        with st.lock:
            st.expire_tokens()
        return jsonify(ok=True)

    @app.get("/__fake/truth")
    def truth():
        with st.lock:
            return jsonify(st.truth())

    @app.get("/__fake/entities/<entity>")
    def entities(entity):
        if entity not in ENTITIES:
            raise NotFound(f"No entity {entity!r}: one of {', '.join(ENTITIES)}")
        with st.lock:
            return jsonify(list(st.store[entity].values()))


def _is_number(value):
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0)


def _add_errors(app):
    @app.errorhandler(HTTPException)
    def http_error(exc):
        """Every error is JSON with a message, as the connector reads them (404, 405, 400 …)."""
        return error(exc.code, exc.description)

    @app.errorhandler(Exception)
    def crash(exc):
        app.logger.exception("fake CRM crashed")
        return error(500, "Internal server error")
