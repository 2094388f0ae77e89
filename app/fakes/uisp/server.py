"""Flask app for the fake UISP CRM API v1.0, plus the /__fake/ test controls.

Payments: GET /payments (clientId, createdDateFrom/To, order, direction, limit/offset and, as an extension of
the fake, providerPaymentId) and GET /payments/<id> are here; POST and DELETE /payments, their faults and the
payment truth under /__fake/ are in payments.py.

Faults (POST /__fake/faults; the JSON replaces the faults in force and restarts every fault counter):
- general, on every /crm/api/v1.0 request under fail_path_prefix: latency_ms, timeout_ms, fail_at_request,
  from_request, error_rate, error_status, malformed_json;
- POST /crm/api/v1.0/payments only: the payments_* faults, see payments.py.
"""
import datetime as _dt
import logging
import random
import threading
import time
from collections import Counter

from flask import Flask, Response, abort, g, request
from werkzeug.serving import WSGIRequestHandler, make_server

from . import data as D
from .data import (C_ARCH, C_FIRST, C_ID, C_LAST, C_REG, I_CLIENT, I_CREATED, I_ID, I_PAID, I_STATUS, I_TOTAL,
                   P_AMOUNT, P_CLIENT, P_CREATED, P_ID, S_STATUS, Dataset)
from .render import render_client, render_invoice, render_payment, render_service
from .payments import PAYMENT_FAULTS, register as register_payments
from .wire import BadRequest, _choice, _date, _int, _int_list, _json, _page, err

BASE = "/crm/api/v1.0"
GENERAL_FAULTS = {"latency_ms", "error_rate", "error_status", "timeout_ms", "malformed_json", "fail_at_request",
                  "fail_path_prefix", "from_request"}


class NoDelayHandler(WSGIRequestHandler):
    """Keep-alive without the ~40 ms Nagle/delayed-ACK stall per request."""
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):   # quiet
        pass


class FakeState:
    def __init__(self, dataset):
        self.ds = dataset
        self.lock = threading.RLock()
        self.faults = {}
        self.fault_counter = 0
        self.stats = Counter()
        self.cache = {}
        self.rng = random.Random(dataset.seed)
        self.payment_faults_counter = 0     # POST /payments seen since the faults were last set
        self.payment_rng = random.Random(dataset.seed)
        self.posts = 0                      # POST /payments seen since the last reset
        self.deletes = 0                    # DELETE /payments/<id> seen since the last reset

    def set_faults(self, faults):
        self.faults = dict(faults)
        self.fault_counter = 0
        self.payment_faults_counter = 0
        self.payment_rng = random.Random(self.ds.seed)

    def cached(self, key, build):
        with self.lock:
            hit = self.cache.get(key)
            if hit and hit[0] == self.ds.version:
                return hit[1]
            value = build()
            if len(self.cache) > 64:
                self.cache.clear()
            self.cache[key] = (self.ds.version, value)
            return value


def create_fake_app(dataset, app_key, read_only_key=None):
    app = Flask("uisp_fake")
    st = FakeState(dataset)
    app.config["FAKE_STATE"] = st

    def ds():
        return st.ds

    def found(row):
        """The row, or UISP's 404 body (rendered by the 404 handler)."""
        if row is None:
            abort(404)
        return row

    def one(row, render):
        row = found(row)
        with st.lock:
            return _json(render(ds(), row))

    @app.before_request
    def _gate():
        path = request.path
        with st.lock:
            st.stats[path] += 1
        if not path.startswith(BASE):
            return None
        f = st.faults
        if f and path.startswith(f.get("fail_path_prefix") or BASE):
            with st.lock:
                st.fault_counter += 1
                n = st.fault_counter
                roll = st.rng.random()
            if f.get("latency_ms"):
                time.sleep(f["latency_ms"] / 1000.0)
            if f.get("timeout_ms"):
                time.sleep(f["timeout_ms"] / 1000.0)
            if f.get("fail_at_request") and n == int(f["fail_at_request"]):
                return err(500, "Internal server error.")
            # Faults below hit only from the from_request-th matching request on ("fail at page k").
            g.faulty = n >= int(f.get("from_request") or 1)
            if g.faulty and f.get("error_rate") and roll < float(f["error_rate"]):
                status = int(f.get("error_status") or 500)
                if status == 429:
                    r = err(429, "Too Many Requests.")
                    r.headers["Retry-After"] = "1"
                    return r
                return err(status, "Internal server error.")
        key = request.headers.get("X-Auth-App-Key")
        if key is None or key not in (app_key, read_only_key):
            return err(401, "User authentication failed.")
        if key == read_only_key and key != app_key and request.method not in ("GET", "HEAD"):
            return err(403, "Forbidden.")
        return None

    @app.after_request
    def _malformed(resp):
        f = st.faults
        if (f.get("malformed_json") and g.get("faulty") and resp.mimetype == "application/json"):
            body = resp.get_data()
            resp.set_data(body[: max(1, len(body) // 2)] + b"<!-- upstream proxy error")
        return resp

    @app.errorhandler(BadRequest)
    def _bad(e):
        return err(400, "Bad request.")

    @app.errorhandler(404)
    def _nf(e):
        return err(404, "Object is not found.")

    @app.errorhandler(405)
    def _na(e):
        return err(405, "Method not allowed.")

    # ---- clients
    @app.get(BASE + "/clients")
    def clients():
        d = ds()
        archived = _int("isArchived", 0)
        if archived not in (0, 1):
            raise BadRequest("isArchived")
        order = _choice("order", ("client.id", "client.registrationDate", "user.firstName", "user.lastName"),
                        "client.id")
        direction = _choice("direction", ("ASC", "DESC"), "ASC")
        ident = request.args.get("userIdent")

        def build():
            rows = [c for c in d.clients if archived or not c[C_ARCH]]
            if order == "client.registrationDate":
                rows.sort(key=lambda c: (c[C_REG], c[C_ID]))
            elif order == "user.firstName":
                rows.sort(key=lambda c: (D.FIRST[c[C_FIRST]], c[C_ID]))
            elif order == "user.lastName":
                rows.sort(key=lambda c: (D.LAST[c[C_LAST]], c[C_ID]))
            if direction == "DESC":
                rows.reverse()
            return rows

        rows = st.cached(("clients", archived, order, direction), build)
        if ident is not None:
            rows = [c for c in rows if "ABC%d" % (1000 + c[C_ID]) == ident]
        with st.lock:
            return _json([render_client(d, c) for c in _page(rows)])

    @app.get(BASE + "/clients/<int:cid>")
    def client(cid):
        return one(ds().client(cid), render_client)

    # ---- services
    @app.get(BASE + "/clients/services")
    def services():
        d = ds()
        cid = _int("clientId", None, 1)
        statuses = _int_list("statuses", range(9))
        if cid is not None:
            found(d.client(cid))
            rows = d.services_of(cid)
            if statuses:
                rows = [s for s in rows if s[S_STATUS] in statuses]
        else:
            key = tuple(sorted(set(statuses)))
            rows = st.cached(("services", key),
                             lambda: [s for s in d.services if not key or s[S_STATUS] in key])
        with st.lock:
            return _json([render_service(d, s) for s in _page(rows)])

    @app.get(BASE + "/clients/services/<int:sid>")
    def service(sid):
        return one(ds().service(sid), render_service)

    @app.patch(BASE + "/clients/services/<int:sid>/suspend")
    def suspend(sid):
        d = ds()
        s = found(d.service(sid))
        body = request.get_json(silent=True) or {}
        reason = body.get("suspensionReasonId")
        if reason is not None and not isinstance(reason, int):
            return err(422, "Validation failed.", {"suspensionReasonId": ["This value is not valid."]})
        with st.lock:
            if s[S_STATUS] != 1:
                return err(422, "Validation failed.", {"status": ["Only active services can be suspended."]})
            d.suspend(s, _dt.datetime.utcnow().date().toordinal())
        return Response(b"", 200)

    @app.patch(BASE + "/clients/services/<int:sid>/cancel-suspend")
    def cancel_suspend(sid):
        d = ds()
        s = found(d.service(sid))
        with st.lock:
            if s[S_STATUS] != 3:
                return err(422, "Validation failed.", {"status": ["Service is not suspended."]})
            d.cancel_suspend(s)
        return Response(b"", 200)

    # ---- invoices
    @app.get(BASE + "/invoices")
    def invoices():
        d = ds()
        cid = _int("clientId", None, 1)
        statuses = tuple(sorted(set(_int_list("statuses", range(6)))))
        dfrom, dto = _date("createdDateFrom"), _date("createdDateTo")
        order = _choice("order", ("createdDate", "number", "clientFirstName", "clientLastName"), "createdDate")
        direction = _choice("direction", ("ASC", "DESC"), "ASC")

        def build(base):
            rows = [i for i in base if (not statuses or i[I_STATUS] in statuses)
                    and (dfrom is None or i[I_CREATED] >= dfrom) and (dto is None or i[I_CREATED] <= dto)]
            if order == "createdDate":
                rows.sort(key=lambda i: (i[I_CREATED], i[I_ID]))
            elif order == "number":
                rows.sort(key=lambda i: (_dt.date.fromordinal(i[I_CREATED]).year, i[I_ID]))
            elif order == "clientFirstName":
                rows.sort(key=lambda i: (D.FIRST[d.clients[i[I_CLIENT] - 1][C_FIRST]], i[I_ID]))
            else:
                rows.sort(key=lambda i: (D.LAST[d.clients[i[I_CLIENT] - 1][C_LAST]], i[I_ID]))
            if direction == "DESC":
                rows.reverse()
            return rows

        if cid is not None:
            found(d.client(cid))
            rows = build(d.invoices_of(cid))
        else:
            rows = st.cached(("invoices", statuses, dfrom, dto, order, direction), lambda: build(d.invoices))
        with st.lock:
            return _json([render_invoice(d, i) for i in _page(rows)])

    @app.get(BASE + "/invoices/<int:iid>")
    def invoice(iid):
        return one(ds().invoice(iid), render_invoice)

    # ---- payments
    @app.get(BASE + "/payments")
    def payments():
        d = ds()
        cid = _int("clientId", None, 1)
        dfrom, dto = _date("createdDateFrom"), _date("createdDateTo")
        order = _choice("order", ("id", "createdDate", "amount"), "createdDate")
        direction = _choice("direction", ("ASC", "DESC"), "ASC")
        lo = None if dfrom is None else (dfrom - D.EPOCH_ORD) * 86400
        hi = None if dto is None else (dto + 1 - D.EPOCH_ORD) * 86400

        def build(base):
            rows = [p for p in base if (lo is None or p[P_CREATED] >= lo) and (hi is None or p[P_CREATED] < hi)]
            if order == "createdDate":
                rows.sort(key=lambda p: (p[P_CREATED], p[P_ID]))
            elif order == "amount":
                rows.sort(key=lambda p: (p[P_AMOUNT], p[P_ID]))
            else:
                rows.sort(key=lambda p: p[P_ID])
            if direction == "DESC":
                rows.reverse()
            return rows

        provider_id = request.args.get("providerPaymentId")
        with st.lock:
            if cid is not None:
                found(d.client(cid))
            if provider_id is not None:   # an extension of the fake: UISP has no such filter
                rows = build([p for p in d.payments_by_provider_id(provider_id)
                              if cid is None or p[P_CLIENT] == cid])
            elif cid is not None:
                rows = build(d.payments_of(cid))
            else:
                rows = st.cached(("payments", lo, hi, order, direction), lambda: build(d.live()))
            return _json([render_payment(d, p) for p in _page(rows)])

    @app.get(BASE + "/payments/<int:pid>")
    def payment(pid):
        return one(ds().payment(pid), render_payment)

    register_payments(app, st, ds, found, BASE)

    # ---- /__fake/ controls
    @app.post("/__fake/clients/<int:cid>/archive")
    def fake_archive(cid):
        with st.lock:
            c = found(ds().client(cid))
            c[C_ARCH] = True
            ds().version += 1
        return _json({"ok": True, "clientId": cid})

    @app.post("/__fake/invoices/<int:iid>/pay")
    def fake_pay(iid):
        with st.lock:
            d = ds()
            i = found(d.invoice(iid))
            rest = i[I_TOTAL] - i[I_PAID]
            if rest > 0:
                d.add_payment(i[I_CLIENT], rest, int(time.time()), 1, {"note": "fake pay"}, [iid], True)
            i[I_PAID], i[I_STATUS] = i[I_TOTAL], 3
            d.version += 1
        return _json({"ok": True, "invoiceId": iid})

    @app.post("/__fake/services/<int:sid>/suspend")
    def fake_suspend(sid):
        with st.lock:
            s = found(ds().service(sid))
            ds().suspend(s, _dt.datetime.utcnow().date().toordinal())
        return _json({"ok": True, "serviceId": sid})

    @app.post("/__fake/faults")
    def fake_faults():
        body = request.get_json(silent=True) or {}
        if not isinstance(body, dict):
            return err(400, "Bad request.")
        unknown = set(body) - GENERAL_FAULTS - PAYMENT_FAULTS
        if unknown:
            return err(400, "Unknown fault keys: %s" % ", ".join(sorted(unknown)))
        ids = body.get("payments_refuse_invoice_ids")
        if ids is not None and not (isinstance(ids, list) and all(isinstance(x, int) for x in ids)):
            return err(400, "payments_refuse_invoice_ids must be a list of invoice ids")
        with st.lock:
            st.set_faults(body)
        return _json({"ok": True, "faults": st.faults})

    @app.post("/__fake/reset")
    def fake_reset():
        with st.lock:
            old = st.ds
            st.ds = Dataset(old.n_clients, old.seed, old.today)
            st.set_faults({})
            st.stats.clear()
            st.cache.clear()
            st.rng = random.Random(old.seed)
            st.posts = st.deletes = 0
        return _json({"ok": True})

    @app.get("/__fake/stats")
    def fake_stats():
        with st.lock:
            return _json({"requests": dict(st.stats), "total": sum(st.stats.values()),
                          "clients": len(st.ds.clients), "services": len(st.ds.services),
                          "invoices": len(st.ds.invoices), "payments": st.ds.live_payments})

    return app


def serve(app, host, port):
    # Werkzeug logs every request to stderr; at thousands of requests per refresh that is noise
    # (and a parent that never reads our stderr pipe would block the server once it fills).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    srv = make_server(host, port, app, threaded=True, request_handler=NoDelayHandler)
    return srv
