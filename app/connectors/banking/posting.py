"""Post matched credit lines to UISP as payments, each exactly once, through the push shape.

The ledger (stream banking/payments, keyed by the line's identity) is written pending before the
call; the payment carries `providerPaymentId` derived from the identity. A run that dies after UISP
accepted leaves the row pending, and the next run finds the payment by that id instead of posting
again. A payment UISP refuses fails alone; the failed page lists it for a retry.
"""
from flask import current_app
from sqlalchemy import select

from ...extensions import db
from ..base.push import PushStream, RecordRejected, push
from .identity import provider_payment_id
from .models import BankLine
from . import uisp_payments

STREAM = "payments"
CHUNK = 500


def _key(record):
    return record["identity"]


def _version(record):
    # What the payment says: a line re-assigned to another customer after posting is a change to refuse.
    invoices = ",".join(str(i["id"]) for i in record["invoices"])
    return f"{record['client_id']}:{record['cents']}:{invoices}"


def _lookup_for(uisp):
    def lookup(_client_key, record):
        return uisp_payments.find(uisp, record["client_id"], record["booking_date"],
                                  provider_payment_id(record["identity"]))
    return lookup


def stream_for(uisp):
    return PushStream(connector="banking", name=STREAM, key=_key, version=_version, lookup=_lookup_for(uisp))


STREAM_DECLARATION = PushStream(connector="banking", name=STREAM, key=_key, version=_version)


def matched_lines():
    """Every matched credit line, as the records the push sends (read in chunks, ordered by id)."""
    after = 0
    query = select(BankLine).where(BankLine.match_status == "matched", BankLine.amount > 0,
                                   BankLine.client_id.is_not(None))
    while lines := db.session.scalars(query.where(BankLine.id > after).order_by(BankLine.id).limit(CHUNK)).all():
        after = lines[-1].id
        records = [_record(line) for line in lines]
        db.session.rollback()
        yield from records


def _record(line):
    return {"identity": line.identity, "line_id": line.id, "client_id": line.client_id,
            "cents": int(round(line.amount * 100)), "booking_date": line.booking_date,
            "invoices": list(line.invoices or []),
            "note": " ".join(filter(None, (line.reference, line.remittance, line.name)))}


def send_with(uisp):
    def send(record, entry):
        if entry.target_id:
            raise RecordRejected(f"already posted as UISP payment {entry.target_id}; the line changed since "
                                 "(another customer or amount): delete that payment in UISP first")
        try:
            return uisp_payments.create(uisp, client_id=record["client_id"], cents=record["cents"],
                                        day=record["booking_date"],
                                        provider_payment_id=provider_payment_id(record["identity"]),
                                        invoice_ids=[i["id"] for i in record["invoices"]], note=record["note"])
        except uisp_payments.PaymentRefused as exc:
            raise RecordRejected(str(exc)) from None
    return send


def post_matched(ctx, workers=4):
    """Send every matched line not yet at UISP; returns {status: n}."""
    uisp = uisp_payments.client()
    total = db.session.scalar(select(db.func.count()).select_from(BankLine).where(
        BankLine.match_status == "matched", BankLine.amount > 0, BankLine.client_id.is_not(None)))
    db.session.rollback()
    batch = int(current_app.config.get("BANKING_POST_BATCH_SIZE", 100))
    return push(ctx, stream_for(uisp), matched_lines(), send_with(uisp), batch_size=batch, workers=workers,
                total=total)
