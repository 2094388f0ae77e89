"""The fake EPOS Now (v4 API): a Flask app over State, serving seeded café transactions to HTTP Basic callers.

API (every /api/* route needs HTTP Basic with a company's API key and secret, which select the company;
wrong or missing -> 401 {"Message": "Authorization has been denied for this request."}):
- GET /api/v4/Transaction/GetByDate?startDate=YYYY-MM-DDTHH:MM:SS&endDate=YYYY-MM-DDTHH:MM:SS&page=N
  -> 200 [transaction, ...]: the company's transactions with startDate <= DateTime < endDate, both the
  company's local wall-clock times without an offset; 200 a page (page 1 first, the default), ordered by
  (DateTime, Id); a page past the end -> []. Missing or unparseable dates, startDate >= endDate or page < 1
  -> 400 {"Message": ...}. A transaction: {Id, DateTime, StatusId 1 complete | 2 void, TransactionType
  "Sale" | "Refund", TotalAmount (positive, 2 dp), DeviceId, StaffId, TransactionItems [{ProductId,
  ProductName, Quantity, UnitPrice, TotalPrice}], Tenders [{TenderTypeId, TenderTypeName, Amount}]}; the
  items' TotalPrice and the tenders' Amount each add up to TotalAmount exactly.
Every error is JSON {"Message": ...} (404 unknown route, 405 wrong method too).

Companies co01..coNN ("Café Nord 01" ...), API key "key-coNN", secret "secret-coNN"; seeding in data.py.

Controls (no auth, JSON):
- POST /_fake/reset: every company back to its seeded transactions (companies added since stay), faults
  back to the startup ones, counts cleared.
- POST /_fake/transactions {"company", "transactions": [{DateTime, TotalAmount, TransactionType "Sale",
  StatusId 1}]} -> {"ids": [...]}: added with items and a tender that fit the amount (all or none: 400).
- POST /_fake/companies {"count": N} -> ensures co01..coNN exist (seeded like the others);
  GET /_fake/companies: both answer {"companies": [{company, name, api_key, api_secret, timezone}]}.
- GET /_fake/truth?company=co01[&startDate=...&endDate=...] -> {count: non-void transactions, sales: total
  of complete Sales, refunds: total of complete Refunds, net, voids, requests: /api/* requests of the company
  since reset}; without company -> {"companies": {key: {...}}}; without dates, every transaction.
- POST /_fake/faults {latency_ms, fail_next: k, status (503), malformed_next: m, company} replaces the faults
  in force (latency_ms left out is the startup --latency-ms; company limits them to that company): the next k
  authenticated /api/* requests answer status {"Message": "Service unavailable"}, the m after those answer
  200 with a truncated JSON body; every one waits latency_ms first (outside the lock).
"""
import datetime as dt
import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, NotFound

from ..control_json import is_count, json_body
from .data import Seeding, default_end_date, local_text, money, render
from .state import State

PAGE_SIZE = 200
DENIED = "Authorization has been denied for this request."
ROUTE_MISSING = "No HTTP resource was found that matches the request URI '{}'."


def error(status, message):
    return jsonify(Message=message), status


def create_fake_app(companies=3, days=14, per_day=40, seed=1, timezone="Europe/London", latency_ms=0,
                    end_date=None):
    """The fake EPOS Now's app; end_date (a date or "YYYY-MM-DD") defaults to yesterday, UTC."""
    if isinstance(end_date, str):
        end_date = dt.date.fromisoformat(end_date)
    seeding = Seeding(days, per_day, seed, ZoneInfo(timezone), end_date or default_end_date())
    app = Flask(__name__)
    app.json.sort_keys = False  # fields in the order EPOS Now sends them
    st = State(seeding, companies, latency_ms)
    app.extensions["fake_epos_state"] = st
    _add_gate(app, st)
    _add_api(app, st)
    _add_controls(app, st)
    _add_errors(app)
    return app


def check_timezone(name):
    """The name when zoneinfo knows it, else a ValueError (for the command line)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


# ---------------------------------------------------------------------------------- auth and request faults
def _add_gate(app, st):
    @app.before_request
    def gate():
        """The credentials first (they say whose faults apply), then the latency, then a fault."""
        if not request.path.startswith("/api/"):
            return None
        with st.lock:
            key = st.authenticate(request.authorization)
            if key is None:
                response, status = error(401, DENIED)
                response.headers["WWW-Authenticate"] = 'Basic realm="EPOS Now"'
                return response, status
            delay, fault, status = st.latency(key), st.take_fault(key), st.faults["status"]
        if delay:
            time.sleep(delay)  # without the lock: concurrent requests wait together
        if fault == "fail":
            return error(int(status), "Service unavailable")
        g.company, g.malformed = key, fault == "malformed"
        return None

    @app.after_request
    def truncate(response):
        """The malformed fault: a 200 whose JSON body stops halfway."""
        if g.get("malformed"):
            body = response.get_data()
            response.set_data(body[:max(1, len(body) // 2)])
        return response


def _add_api(app, st):
    @app.get("/api/v4/Transaction/GetByDate")
    def get_by_date():
        start, end = _local_arg("startDate"), _local_arg("endDate")
        if start >= end:
            raise BadRequest("startDate must be before endDate.")
        page = _page_arg()
        with st.lock:
            records = st.window(g.company, local_text(start), local_text(end))
            rows = records[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
        return jsonify([render(txn) for txn in rows])  # transactions are immutable: rendered without the lock


def _local_arg(name, required=True):
    """A query argument as a local (offset-free) datetime; 400 when missing or not one."""
    value = request.args.get(name, "").strip()
    if not value:
        if not required:
            return None
        raise BadRequest(f"The {name} parameter is required (YYYY-MM-DDTHH:MM:SS, local time).")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"The value '{value}' is not valid for {name} (YYYY-MM-DDTHH:MM:SS).") from None
    if moment.tzinfo is not None:
        raise BadRequest(f"{name} is a local time: '{value}' must not carry an offset.")
    return moment


def _page_arg():
    value = request.args.get("page", "1").strip()
    if not value.lstrip("-").isdigit() or int(value) < 1:
        raise BadRequest(f"The value '{value}' is not valid for page: pages start at 1.")
    return int(value)


# ---------------------------------------------------------------------------------- controls
def _add_controls(app, st):
    @app.post("/_fake/reset")
    def reset():
        with st.lock:
            st.reset()
        return jsonify(ok=True)

    @app.post("/_fake/transactions")
    def add_transactions():
        body = json_body()
        listed = body.get("transactions")
        if not isinstance(listed, list) or not listed:
            raise BadRequest("transactions must be a non-empty list")
        rows = [_added_row(n, row) for n, row in enumerate(listed)]
        with st.lock:
            return jsonify(ids=st.add(_known_company(st, body.get("company")), rows))

    @app.post("/_fake/companies")
    def ensure_companies():
        count = json_body().get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 999:
            raise BadRequest("count must be an integer from 1 to 999")
        seeded = st.seed(count)  # the slow part, outside the lock
        with st.lock:
            st.install(seeded)
            return jsonify(companies=st.listing())

    @app.get("/_fake/companies")
    def list_companies():
        with st.lock:
            return jsonify(companies=st.listing())

    @app.get("/_fake/truth")
    def truth():
        start, end = _local_arg("startDate", False), _local_arg("endDate", False)
        start, end = (local_text(m) if m else None for m in (start, end))
        with st.lock:
            if request.args.get("company"):
                key = _known_company(st, request.args["company"])
                return jsonify(_truth(st, key, start, end))
            return jsonify(companies={key: _truth(st, key, start, end) for key in st.companies})

    @app.post("/_fake/faults")
    def faults():
        body = json_body()
        numbers = ("latency_ms", "fail_next", "malformed_next")
        if not all(is_count(body.get(k)) for k in numbers) or (body.get("status") or 503) not in range(400, 600):
            raise BadRequest(f"{', '.join(numbers)} are numbers >= 0; status an HTTP error status")
        with st.lock:
            if body.get("company") is not None:
                _known_company(st, body["company"])
            st.set_faults({k: body.get(k) for k in (*numbers, "status", "company")})
            return jsonify(ok=True, faults=st.faults)


def _truth(st, key, start, end):
    counts = st.truth(key, start, end)
    return {"company": key, "startDate": start, "endDate": end, "count": counts["count"],
            "sales": money(counts["sales"]), "refunds": money(counts["refunds"]),
            "net": money(counts["sales"] - counts["refunds"]), "voids": counts["voids"],
            "requests": st.requests[key]}


def _added_row(n, row):
    """(DateTime text, cents, type, status) of an added transaction; 400 naming what is wrong."""
    if not isinstance(row, dict):
        raise BadRequest(f"transactions[{n}] must be an object")
    try:
        moment = dt.datetime.fromisoformat(str(row.get("DateTime")))
    except ValueError:
        raise BadRequest(f"transactions[{n}].DateTime must be YYYY-MM-DDTHH:MM:SS") from None
    amount = row.get("TotalAmount")
    if not isinstance(amount, (int, float)) or isinstance(amount, bool) or amount <= 0 \
            or abs(amount * 100 - round(amount * 100)) > 1e-6 or moment.tzinfo is not None:
        raise BadRequest(f"transactions[{n}]: TotalAmount is a positive amount in cents, DateTime local")
    kind, status = row.get("TransactionType", "Sale"), row.get("StatusId", 1)
    if kind not in ("Sale", "Refund") or status not in (1, 2):
        raise BadRequest(f"transactions[{n}]: TransactionType is Sale or Refund, StatusId 1 or 2")
    return local_text(moment), round(amount * 100), kind, status


def _known_company(st, key):
    """The key of an existing company (call with the lock held), else 404."""
    if key not in st.companies:
        raise NotFound(f"No company {key!r}")
    return key


def _add_errors(app):
    @app.errorhandler(HTTPException)
    def http_error(exc):
        """Every error is JSON with a Message, as ASP.NET Web API answers them."""
        if isinstance(exc, NotFound) and request.endpoint is None:
            return error(404, ROUTE_MISSING.format(request.url))
        return error(exc.code, exc.description)

    @app.errorhandler(Exception)
    def crash(exc):
        app.logger.exception("fake EPOS Now crashed")
        return error(500, "An error has occurred.")
