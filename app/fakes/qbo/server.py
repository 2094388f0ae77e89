"""The fake QuickBooks Online: Intuit's OAuth2 token endpoint and the v3 accounting API for sales and refund
receipts, with QBO's real per-realm limits, a movable clock, faults and its own truth under /_fake/.

OAuth2 (client authentication by HTTP Basic client_id:client_secret, or both in the form):
- POST /oauth2/v1/tokens/bearer grant_type=refresh_token&refresh_token=... -> 200 {access_token,
  refresh_token (a NEW one every time), token_type: "bearer", expires_in: 3600, x_refresh_token_expires_in:
  8726400}; the refresh token used dies at once, earlier access tokens live out their hour. Wrong client
  -> 401 {"error": "invalid_client"}; unknown, rotated, revoked or expired refresh token -> 400
  {"error": "invalid_grant"}; another grant_type -> 400 {"error": "unsupported_grant_type"}.
- POST /oauth2/v1/tokens/revoke {"token": refresh or access token} -> 200; that realm's tokens stop working.
Realms 9130000000000001 ... start with access token "at-<realm>-0" and refresh token "rt-<realm>-0".

API (Authorization: Bearer <an access token of THAT realm>, else 401 Fault code 3200 type AUTHENTICATION;
an unknown realm -> 404 Fault code 610; `minorversion` is accepted and ignored):
- POST /v3/company/<realm>/salesreceipt | refundreceipt [?requestid=R] -> 200 {"SalesReceipt" |
  "RefundReceipt": {...the body, Id, SyncToken "0", TotalAmt, MetaData {CreateTime, LastUpdatedTime}},
  "time"}; 400 ValidationFault: code 2020 a missing Line / Line Amount / SalesItemLineDetail.ItemRef, 6000
  a negative or non-number Amount, a bad TxnDate, a DocNumber over 21 characters (or one the reject_doc
  fault names: "Rejected by the test"), 6140 "Duplicate Document Number Error" for a DocNumber that entity
  already has in the realm.
- POST /v3/company/<realm>/batch [?requestid=R] {"BatchItemRequest": [{bId, operation: "create",
  SalesReceipt | RefundReceipt}, or {bId, Query}]} -> 200 {"BatchItemResponse": [{bId, SalesReceipt} |
  {bId, Fault} | {bId, QueryResponse}], "time"}, each item on its own; more than max_batch items -> 400.
- GET /v3/company/<realm>/query?query=... (or POST with the query as the body) -> 200 {"QueryResponse":
  {<Entity>: [...], startPosition, maxResults} | {} | {totalCount}, "time"}; see query.py for the
  language; anything else -> 400 ValidationFault code 4000 "Error parsing query".
- GET /v3/company/<realm>/salesreceipt/<id>, .../refundreceipt/<id> -> 200 {<Entity>: {...}, "time"};
  GET /v3/company/<realm>/companyinfo/<realm> -> 200 {"CompanyInfo": {...}, "time"}.
The same requestid again in a realm answers the first answer again (status and body) and creates nothing,
even when a fault lost that first answer. Every /v3 error is {"Fault": {"Error": [{Message, Detail, code}],
"type"}, "time"}.

Limits per realm (all on real time): concurrency requests in flight, rate_per_minute requests and
batch_per_minute batches in any sliding 60 s -> 429 Fault code 3001 type SERVICE with Retry-After (whole
seconds until the window frees, >= 1); a throttled request counts in truth.throttled (and requests), not
against the windows. Latency and hangs are slept outside the lock but inside the concurrency slot.

Controls (no auth, JSON): POST /_fake/reset (realms added since stay), POST /_fake/realms {"count": N}
and GET /_fake/realms -> {"realms": [{realm, access_token, refresh_token}]} (current tokens, null when
revoked), POST /_fake/revoke {"realm"}, POST /_fake/clock {"advance": s} and GET /_fake/clock -> {now,
offset}, GET /_fake/limits, GET /_fake/truth[?realm=R] -> {receipts: [{Id, DocNumber, TxnDate, TotalAmt,
type}], requests, throttled, max_in_flight, in_flight, refreshes, batches, duplicates_refused, faulted}
(without realm: {"realms": {R: ...}}), and POST /_fake/faults, whose JSON replaces the faults in force:
- realm: R                 only that realm's requests see the faults;
- latency_ms: N            every /v3 request waits N ms (left out: the startup --latency-ms);
- fail_next: k, status     the next k /v3 requests answer status (500, 503 or 429 with Retry-After: 1) with a
                           Fault and do nothing;
- hang_next: h, hang_seconds: s   the next h /v3 requests wait s seconds more, then are answered normally;
- malformed_next: m        the next m /v3 requests (after the fail_next ones) answer 200 with a truncated JSON
                           body and create nothing;
- accept_then_fail_next: a the next a creates or batches are done (receipts stored, requestid remembered),
                           then answer a 500 Fault;
- reject_doc: [DocNumber]  a receipt with one of these DocNumbers gets 400 ValidationFault code 6000.
"""
import json
import time

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, NotFound

from ..control_json import is_count, json_body
from . import receipts, wire
from .state import ACCESS_SECONDS, ENTITY_TYPES, REFRESH_SECONDS, Limits, State

ENTITY_PATHS = {entity.lower(): entity for entity in ENTITY_TYPES}
WRITES = ("create", "batch")
FAULT_NUMBERS = ("latency_ms", "fail_next", "hang_next", "hang_seconds", "malformed_next", "accept_then_fail_next")
FAULT_STATUSES = (429, 500, 503)


def create_fake_app(client_id="demo-client", client_secret="demo-secret", realms=3, latency_ms=0,
                    rate_per_minute=500, concurrency=10, batch_per_minute=40, max_batch=30):
    """The fake QBO's app, with `realms` realms and these per-realm limits."""
    app = Flask(__name__)
    app.json.sort_keys = False
    limits = Limits(rate_per_minute, concurrency, batch_per_minute, max_batch, latency_ms)
    st = State(client_id, client_secret, realms, limits)
    app.extensions["fake_qbo_state"] = st
    _add_oauth(app, st)
    _add_api(app, st)
    _add_controls(app, st)
    _add_errors(app, st)
    return app


# ---------------------------------------------------------------------------------- OAuth2
def _client():
    """(client_id, client_secret) from HTTP Basic, else from the form."""
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        return auth.username, auth.password
    return request.form.get("client_id"), request.form.get("client_secret")


def oauth_error(status, code):
    return jsonify(error=code), status


def _add_oauth(app, st):
    @app.post("/oauth2/v1/tokens/bearer")
    def bearer():
        with st.lock:
            if not st.client_ok(*_client()):
                return oauth_error(401, "invalid_client")
            if request.form.get("grant_type") != "refresh_token":
                return oauth_error(400, "unsupported_grant_type")
            if not request.form.get("refresh_token"):
                return oauth_error(400, "invalid_request")
            realm = st.refresh(request.form["refresh_token"])
            if realm is None:
                return oauth_error(400, "invalid_grant")
            return jsonify(access_token=realm.latest_access, refresh_token=realm.refresh, token_type="bearer",
                           expires_in=ACCESS_SECONDS, x_refresh_token_expires_in=REFRESH_SECONDS)

    @app.post("/oauth2/v1/tokens/revoke")
    def revoke_token():
        body = request.get_json(force=True, silent=True)
        token = body.get("token") if isinstance(body, dict) else request.form.get("token")
        with st.lock:
            if not st.client_ok(*_client()):
                return oauth_error(401, "invalid_client")
            if not token:
                return oauth_error(400, "invalid_request")
            st.revoke_token(token)  # an unknown token is no error (RFC 7009)
        return Response(status=200)


# ---------------------------------------------------------------------------------- the v3 API
def _add_api(app, st):
    base = "/v3/company/<realm_id>"

    def create(realm_id, entity):
        return _v3(st, realm_id, "create", lambda realm: _remembered(
            st, realm, lambda body: receipts.answer(st, realm, ENTITY_PATHS[entity], body)))

    def batch(realm_id):
        return _v3(st, realm_id, "batch", lambda realm: _remembered(
            st, realm, lambda body: receipts.batch(st, realm, body)))

    def query(realm_id):
        return _v3(st, realm_id, "query", lambda realm: _query(st, realm))

    def read(realm_id, entity, obj_id):
        return _v3(st, realm_id, "read", lambda realm: _read(st, realm, ENTITY_PATHS[entity], obj_id))

    def company_info(realm_id, info_id):
        return _v3(st, realm_id, "read", lambda realm: _company_info(st, realm, info_id))

    for entity in ENTITY_PATHS:
        app.add_url_rule(f"{base}/{entity}", f"create_{entity}", lambda realm_id, e=entity: create(realm_id, e),
                         methods=["POST"])
        app.add_url_rule(f"{base}/{entity}/<obj_id>", f"read_{entity}",
                         lambda realm_id, obj_id, e=entity: read(realm_id, e, obj_id))
    app.add_url_rule(f"{base}/batch", "batch", batch, methods=["POST"])
    app.add_url_rule(f"{base}/query", "query", query, methods=["GET", "POST"])
    app.add_url_rule(f"{base}/companyinfo/<info_id>", "companyinfo", company_info)


def _v3(st, realm_id, kind, handler):
    """One /v3 request: the realm, the token and the limits under the lock; then, holding a concurrency slot
    but not the lock, the faults' wait and the handler, which answers (status, body)."""
    with st.lock:
        realm = st.realms.get(realm_id)
        if realm is None:
            return _fault(st, 404, wire.not_found(f"company {realm_id}"))
        if not st.authorized(realm, _bearer()):
            return _fault(st, 401, wire.authentication())
        retry_after = st.admit(realm, kind == "batch")
        if retry_after:
            return _fault(st, 429, wire.throttled(), retry_after)
        plan = st.plan(realm, kind in WRITES)
    try:
        return _serve(st, realm, kind, plan, handler)
    finally:
        with st.lock:
            st.release(realm)


def _serve(st, realm, kind, plan, handler):
    if plan.delay:
        time.sleep(plan.delay)
    if plan.action == "fail":
        return _fault(st, plan.status, wire.system(plan.status), 1 if plan.status == 429 else None)
    if plan.action == "malformed":  # a write is not done; a read is, its answer cut short
        status, body = handler(realm) if kind not in WRITES else (200, {"time": st.now_iso(), "Id": "?"})
        text = json.dumps(body)
        return Response(text[:max(1, len(text) // 2)], 200, mimetype="application/json")
    status, body = handler(realm)
    if plan.action == "accept_then_fail":
        return _fault(st, 500, wire.system(500))
    return jsonify(body), status


def _bearer():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _fault(st, status, fault, retry_after=None):
    response = jsonify(Fault=fault, time=st.now_iso())
    if retry_after:
        response.headers["Retry-After"] = str(int(retry_after))
    return response, status


def _remembered(st, realm, answer):
    """Intuit's idempotency: with a requestid seen before in this realm, its first (status, body) again;
    else answer(body) under the lock, remembered under the requestid when there is one."""
    body = request.get_json(force=True, silent=True)
    request_id = request.args.get("requestid")
    with st.lock:
        if request_id and request_id in realm.replies:
            return realm.replies[request_id]
        if isinstance(body, dict):
            result = answer(body)
        else:
            result = 400, {"Fault": wire.validation(receipts.MISSING, "Request body is not a JSON object"),
                           "time": st.now_iso()}
        if request_id:
            realm.replies[request_id] = result
        return result


def _query(st, realm):
    text = request.args.get("query")
    if text is None and request.method == "POST":
        text = request.get_data(as_text=True)
    with st.lock:
        result = receipts.run_query(realm, text)
        return (400 if "Fault" in result else 200), {**result, "time": st.now_iso()}


def _read(st, realm, entity, obj_id):
    with st.lock:
        obj = realm.entities[entity].get(obj_id)
        if obj is None:
            return 400, {"Fault": wire.not_found(f"{entity} {obj_id}"), "time": st.now_iso()}
        return 200, {entity: obj, "time": st.now_iso()}


def _company_info(st, realm, info_id):
    if info_id != realm.id:
        return 400, {"Fault": wire.not_found(f"CompanyInfo {info_id}"), "time": st.now_iso()}
    number = int(realm.id[-2:])
    return 200, {"CompanyInfo": {"Id": realm.id, "CompanyName": f"Café Nord {number:02d} Ltd", "Country": "GB",
                                 "SyncToken": "0"}, "time": st.now_iso()}


# ---------------------------------------------------------------------------------- controls
def _add_controls(app, st):
    @app.post("/_fake/reset")
    def reset():
        with st.lock:
            st.reset()
        return jsonify(ok=True)

    @app.post("/_fake/realms")
    def ensure_realms():
        count = json_body().get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 9999:
            raise BadRequest("count must be an integer from 1 to 9999")
        with st.lock:
            st.ensure(count)
            return jsonify(realms=st.listing())

    @app.get("/_fake/realms")
    def list_realms():
        with st.lock:
            return jsonify(realms=st.listing())

    @app.post("/_fake/revoke")
    def revoke_realm():
        with st.lock:
            _known_realm(st, json_body().get("realm")).revoke()
        return jsonify(ok=True)

    @app.route("/_fake/clock", methods=["GET", "POST"])
    def clock():
        if request.method == "POST":
            advance = json_body().get("advance", 0)
            if isinstance(advance, bool) or not isinstance(advance, (int, float)):
                raise BadRequest("advance is a number of seconds")
            with st.lock:
                st.advance(advance)
        with st.lock:
            return jsonify(now=st.now_iso(), offset=st.offset)

    @app.get("/_fake/limits")
    def limits():
        with st.lock:
            return jsonify(st.limits_view())

    @app.get("/_fake/truth")
    def truth():
        with st.lock:
            if request.args.get("realm"):
                return jsonify(st.truth(_known_realm(st, request.args["realm"])))
            return jsonify(realms={r: st.truth(realm) for r, realm in sorted(st.realms.items())})

    @app.post("/_fake/faults")
    def faults():
        body = json_body()
        if not all(is_count(body.get(k)) for k in FAULT_NUMBERS) or \
                (body.get("status") or 500) not in FAULT_STATUSES or \
                not isinstance(body.get("reject_doc") or [], list):
            raise BadRequest(f"{', '.join(FAULT_NUMBERS)} are numbers >= 0, status one of {FAULT_STATUSES}, "
                             "reject_doc a list of DocNumbers")
        with st.lock:
            if body.get("realm") is not None:
                _known_realm(st, str(body["realm"]))
            st.set_faults({k: body.get(k) for k in (*FAULT_NUMBERS, "status", "realm", "reject_doc")})
            return jsonify(ok=True, faults=st.faults)


def _known_realm(st, realm_id):
    """The realm (call with the lock held), else 404."""
    realm = st.realms.get(str(realm_id))
    if realm is None:
        raise NotFound(f"No realm {realm_id!r}")
    return realm


def _add_errors(app, st):
    @app.errorhandler(HTTPException)
    def http_error(exc):
        """A /v3 error is a Fault, a token endpoint's an OAuth error, a control's a message."""
        if request.path.startswith("/v3/"):
            return _fault(st, exc.code, wire.validation(str(exc.code), exc.name, exc.description))
        if request.path.startswith("/oauth2/"):
            return oauth_error(exc.code, "invalid_request")
        return jsonify(message=exc.description), exc.code

    @app.errorhandler(Exception)
    def crash(exc):
        app.logger.exception("fake QBO crashed")
        if request.path.startswith("/v3/"):
            return _fault(st, 500, wire.system(500))
        return jsonify(message="Internal server error"), 500
