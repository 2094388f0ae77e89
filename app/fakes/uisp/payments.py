"""The payment-writing side of the fake UISP: POST and DELETE /payments, their faults, and the /__fake/ truth
a test reads back to see what a connector really did to the books. The read side (GET /payments,
GET /payments/<id>) stays in server.py, rendered like the other collections.

POST /payments (201 + Location) and DELETE /payments/<id> (200, empty body; reverses the covers and the
credit; 404 when unknown or already deleted).

Faults (set with the general ones through POST /__fake/faults, see server.py), on POST /crm/api/v1.0/payments
only, counted by their own counter (every POST that reaches the handler, i.e. passed authentication and the
general faults, counts, valid or not):
  payments_lose_answer_at: N   the Nth POST creates the payment, then answers 504 Gateway Timeout;
  payments_lose_answer_rate: p each POST that creates a payment answers 504 with probability p (seeded rng);
  payments_refuse_at: N        the Nth POST answers 422 (errors.amount) and creates nothing;
  payments_refuse_invoice_ids: [ids]  a POST that names or would cover any of them answers 422
                               (errors.invoiceIds) and creates nothing;
  payments_hang_at: N          the Nth POST creates the payment, then sleeps payments_hang_ms (default
                               30000) before answering.

Truth (no auth): GET /__fake/payments (payments created through the API, deleted ids, POST/DELETE counts),
GET /__fake/invoices/<id> (amounts in cents, status), POST /__fake/invoices/open {"count": n} (n open
invoices spread over many clients, for building allocations).
"""
import datetime as _dt
import time

from flask import Response, abort, request

from . import data as D
from .data import (C_ARCH, C_ID, I_CLIENT, I_CREATED, I_ID, I_PAID, I_STATUS, I_TOTAL, P_AMOUNT, P_CLIENT,
                   P_COVERS, P_CREATED, P_EXTRA, P_ID)
from .render import render_payment
from .wire import _json, err, money

PAYMENT_FAULTS = {"payments_lose_answer_at", "payments_lose_answer_rate", "payments_refuse_at",
                  "payments_refuse_invoice_ids", "payments_hang_at", "payments_hang_ms"}
EXTRA_FIELDS = ("note", "providerName", "providerPaymentId", "providerPaymentTime", "checkNumber", "userId")


def register(app, st, ds, found, base):
    """Add the routes to app; st, ds and found are create_fake_app's state and helpers, base the API prefix."""
    _register_writes(app, st, ds, base)
    _register_truth(app, st, ds, found)


def _register_writes(app, st, ds, base):
    @app.delete(base + "/payments/<int:pid>")
    def delete_payment(pid):
        with st.lock:
            st.deletes += 1
            if ds().delete_payment(pid) is None:
                abort(404)
        return Response(b"", 200)

    @app.post(base + "/payments")
    def create_payment():
        d = ds()
        f = st.faults
        with st.lock:
            st.posts += 1
            st.payment_faults_counter += 1
            n = st.payment_faults_counter
        if _nth(f.get("payments_refuse_at"), n):
            return err(422, "Validation failed.", {"amount": ["Payment refused by the fake (payments_refuse_at)"]})
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return err(400, "Bad request.")
        errors, p = _parse(d, body)
        # Invoices are judged and covered in one critical section, so no other request can pay them in between.
        with st.lock:
            refusal = _invalid(d, errors, p)
            if refusal is None:
                refusal = _refused(d, f, p)
            if refusal is not None:
                return refusal
            row = d.add_payment(p["cid"], p["amount_c"], p["ts"], D.METHODS.index(p["method"]) if p["method"] else 0,
                                p["extra"], p["inv_ids"], p["apply"], via_api=True)
            out = render_payment(d, row)
            lose = _nth(f.get("payments_lose_answer_at"), n) or (
                bool(f.get("payments_lose_answer_rate"))
                and st.payment_rng.random() < float(f["payments_lose_answer_rate"]))
        if _nth(f.get("payments_hang_at"), n):
            time.sleep(float(f.get("payments_hang_ms") or 30000) / 1000.0)
        if lose:
            return err(504, "Gateway Timeout")
        return _json(out, 201, headers={"Location": "/payments/%d" % row[P_ID]})


def _register_truth(app, st, ds, found):
    @app.get("/__fake/payments")
    def fake_payments():
        """The truth about payments made through the API (not the generated history) and deletions."""
        with st.lock:
            d = ds()
            out = []
            for pid in d.api_payments:
                p = d.payment(pid)
                if p is not None:
                    out.append(_payment_truth(pid, p))
            return _json({"payments": out, "deleted": list(d.deleted_payments), "posts": st.posts,
                          "deletes": st.deletes})

    @app.get("/__fake/invoices/<int:iid>")
    def fake_invoice(iid):
        with st.lock:
            i = found(ds().invoice(iid))
            return _json({"id": i[I_ID], "clientId": i[I_CLIENT], "totalCents": i[I_TOTAL], "paidCents": i[I_PAID],
                          "status": i[I_STATUS]})

    @app.post("/__fake/invoices/open")
    def fake_open_invoices():
        """n currently open (unpaid or partly paid) invoices of non-archived clients, spread over as many
        clients as possible: each client's oldest open invoice first, round robin over the clients."""
        body = request.get_json(silent=True) or {}
        count = body.get("count", 10) if isinstance(body, dict) else None
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            return err(400, "count must be a non-negative integer")
        with st.lock:
            picked = _spread_open_invoices(ds(), count)
            return _json({"invoices": [{"id": i[I_ID], "clientId": i[I_CLIENT], "status": i[I_STATUS],
                                        "totalCents": i[I_TOTAL], "amountToPayCents": i[I_TOTAL] - i[I_PAID],
                                        "amountToPay": money(i[I_TOTAL] - i[I_PAID])} for i in picked],
                          "clients": len({i[I_CLIENT] for i in picked})})


def _nth(setting, n):
    """Whether a fault set to fire at the setting-th request fires at request n."""
    return bool(setting) and n == int(setting)


def _parse(d, body):
    """The POST's fields and the validation errors that need no lock; invoiceIds are judged later, under it."""
    errors = {}
    amount = body.get("amount")
    amount_problem = _amount_problem(amount)
    if amount_problem:
        errors["amount"] = [amount_problem]
    cid = body.get("clientId")
    if cid is not None and (isinstance(cid, bool) or not isinstance(cid, int) or d.client(cid) is None):
        errors["clientId"] = ["This value is not valid."]
        cid = False   # invalid: do not judge invoiceIds against it
    method = body.get("methodId")
    if method is not None and method not in D.METHODS:
        errors["methodId"] = ["This value is not valid."]
    ts = int(time.time())
    if body.get("createdDate"):
        try:
            ts = int(_dt.datetime.strptime(body["createdDate"], "%Y-%m-%dT%H:%M:%S%z").timestamp())
        except (ValueError, TypeError):
            errors["createdDate"] = ["This value is not a valid datetime."]
    inv_ids = body.get("invoiceIds") or None
    bad_ids = inv_ids is not None and not (
        isinstance(inv_ids, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in inv_ids))
    if bad_ids:
        errors["invoiceIds"] = ["This value is not valid."]
    return errors, {"cid": cid, "method": method, "ts": ts, "inv_ids": inv_ids,
                    "judge_invoices": inv_ids is not None and not bad_ids and cid is not False,
                    "extra": {k: body.get(k) for k in EXTRA_FIELDS},
                    "apply": body.get("applyToInvoicesAutomatically", True) is not False,
                    "amount_c": int(round(amount * 100)) if "amount" not in errors else 0}


def _amount_problem(amount):
    if amount is None or amount == "":
        return "This value should not be blank."
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        return "This value should be a valid number."
    if amount <= 0:
        return "This value should be greater than 0."
    return None


def _invalid(d, errors, p):
    """UISP's 422 when the POST failed validation, invoiceIds included; None when it passed."""
    if p["judge_invoices"]:
        problems = _invoice_problems(d, p["cid"], p["inv_ids"])
        if problems:
            errors["invoiceIds"] = problems
    if errors:
        return err(422, "Validation failed.", errors)
    return None


def _refused(d, f, p):
    """The 422 of payments_refuse_invoice_ids when the POST names or would cover a refused invoice, else None."""
    refused = set(f.get("payments_refuse_invoice_ids") or ())
    if not refused:
        return None
    covered = {i[I_ID] for i, _ in d.plan_covers(p["cid"], p["amount_c"], p["inv_ids"], p["apply"])}
    hit = sorted(refused & (covered | set(p["inv_ids"] or ())))
    if not hit:
        return None
    return err(422, "Validation failed.", {"invoiceIds": [
        "Payment refused by the fake (payments_refuse_invoice_ids): invoice %d" % i for i in hit]})


def _invoice_problems(d, cid, inv_ids):
    """UISP-style messages for invoiceIds that are unknown, of another client, or void ([] when all fine)."""
    if cid is None:
        return ["Invoices can only be paid by a payment of a client (clientId is missing)."]
    problems = []
    for iid in dict.fromkeys(inv_ids):
        inv = d.invoice(iid)
        if inv is None:
            problems.append("Invoice %d does not exist." % iid)
        elif inv[I_CLIENT] != cid:
            problems.append("Invoice %d does not belong to client %d." % (iid, cid))
        elif inv[I_STATUS] == 4:
            problems.append("Invoice %d is void." % iid)
    return problems


def _payment_truth(pid, p):
    extra = p[P_EXTRA] or {}
    return {"id": pid, "clientId": p[P_CLIENT], "amount": money(p[P_AMOUNT]),
            "amountCents": p[P_AMOUNT], "createdDate": D.fmt_epoch(p[P_CREATED]),
            "providerName": extra.get("providerName"),
            "providerPaymentId": extra.get("providerPaymentId"),
            "invoiceIds": [cv[1] for cv in p[P_COVERS]],
            "covers": [{"invoiceId": cv[1], "amountCents": cv[2]} for cv in p[P_COVERS]]}


def _spread_open_invoices(d, count):
    queues = []
    for c in d.clients:
        if c[C_ARCH]:
            continue
        open_ = sorted((i for i in d.invoices_of(c[C_ID]) if i[I_STATUS] in (1, 2)),
                       key=lambda i: (i[I_CREATED], i[I_ID]))
        if open_:
            queues.append(open_)
    picked, depth = [], 0
    while len(picked) < count and queues:
        queues = [q for q in queues if len(q) > depth]
        for q in queues:
            if len(picked) >= count:
                break
            picked.append(q[depth])
        depth += 1
    return picked
