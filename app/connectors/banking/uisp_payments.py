"""The UISP payment calls Banking makes: create one for a statement line or an invoice's share of a deposit,
find one by its providerPaymentId after a lost answer, and delete one to roll a reconciliation back."""
from datetime import date, timedelta

from flask import current_app

from ..uisp.client import UispClient, UispError

PROVIDER = "Syncdeck Banking"
BANK_TRANSFER = "4145b5f5-3bbc-45e3-8fc5-9cda970c62fb"  # UISP's built-in "Bank transfer" method
# The answer of a POST that may have been created anyway: look it up before anything else.
UNKNOWN_OUTCOME = (None, 408, 500, 502, 503, 504)


class PaymentRefused(Exception):
    """UISP validated the payment and refused it (4xx): the message says why; nothing was created."""


def in_flight():
    """How many requests Banking keeps in flight to UISP (BANKING_CONCURRENCY)."""
    return int(current_app.config.get("BANKING_CONCURRENCY", 8))


def client():
    """The UISP client, its pool sized for Banking's requests in flight."""
    return UispClient.from_config(current_app.config, workers=max(4, in_flight()))


def create(uisp, *, client_id, cents, day, provider_payment_id, invoice_ids=(), note=""):
    """POST /payments once; returns the payment id. After an unknown outcome the payment is looked up by its
    providerPaymentId and, if UISP holds it, that is the answer: a payment is never posted twice."""
    body = {"clientId": client_id, "amount": round(cents / 100, 2), "methodId": BANK_TRANSFER,
            "createdDate": f"{day.isoformat()}T12:00:00+0000", "providerName": PROVIDER,
            "providerPaymentId": provider_payment_id, "providerPaymentTime": f"{day.isoformat()}T12:00:00+0000",
            "note": note[:500], "applyToInvoicesAutomatically": True}
    if invoice_ids:
        body["invoiceIds"] = list(invoice_ids)
    try:
        return int(uisp.post("/payments", body)["id"])
    except UispError as exc:
        if exc.status in UNKNOWN_OUTCOME:
            found = find(uisp, client_id, day, provider_payment_id)
            if found is not None:
                return found
            raise
        if exc.status in (400, 404, 422):
            raise PaymentRefused(str(exc)) from None
        raise


def find(uisp, client_id, day: date, provider_payment_id):
    """The id of this client's payment with this providerPaymentId created around `day`, or None."""
    rows = uisp.get("/payments", clientId=client_id, createdDateFrom=(day - timedelta(days=1)).isoformat(),
                    createdDateTo=(day + timedelta(days=1)).isoformat(), limit=10000)
    return next((int(p["id"]) for p in rows or () if p.get("providerPaymentId") == provider_payment_id), None)


def delete(uisp, payment_id):
    """DELETE /payments/{id}; True when deleted now or already gone."""
    try:
        uisp.delete(f"/payments/{int(payment_id)}")
    except UispError as exc:
        if exc.status == 404:
            return True
        raise
    return True
