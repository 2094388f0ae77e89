"""EPOS transactions as QuickBooks receipts: a sale becomes a SalesReceipt, a refund a RefundReceipt,
a void nothing. The DocNumber (prefix + EPOS id) is how a receipt is found in QBO again."""
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from .epos import STATUS_VOID, money

SALE, REFUND = "SalesReceipt", "RefundReceipt"
DOC_NUMBER_LENGTH = 21  # QBO's limit


class ReceiptError(ValueError):
    """An EPOS transaction that cannot become a receipt (the message says why)."""


@dataclass(frozen=True)
class Receipt:
    epos_id: str
    kind: str
    doc_number: str
    amount: Decimal
    body: dict


def is_posted(transaction):
    """Voided transactions are not posted (and not part of the EPOS total)."""
    return transaction.get("StatusId") != STATUS_VOID


def receipt_for(transaction, trading_date: date, options):
    """The QBO entity for one EPOS transaction; `options` are the company's settings."""
    epos_id = str(transaction.get("Id", "")).strip()
    if not epos_id:
        raise ReceiptError("an EPOS transaction without an Id")
    kind = REFUND if transaction.get("TransactionType") == "Refund" else SALE
    doc_number = f"{options['doc_prefix']}{epos_id}"
    if len(doc_number) > DOC_NUMBER_LENGTH:
        raise ReceiptError(f"DocNumber {doc_number!r} is longer than QBO's {DOC_NUMBER_LENGTH} characters: "
                           "shorten the company's DocNumber prefix")
    lines = [_line(item, options) for item in transaction.get("TransactionItems") or []]
    amount = money(transaction.get("TotalAmount", 0))
    if not lines:
        lines = [_line({"ProductName": "EPOS sale", "Quantity": 1, "UnitPrice": amount, "TotalPrice": amount},
                       options)]
    body = {"DocNumber": doc_number, "TxnDate": trading_date.isoformat(),
            "PrivateNote": f"EPOS transaction {epos_id} at {transaction.get('DateTime', '')}",
            "Line": lines, "DepositToAccountRef": {"value": str(options["qbo_deposit_account"])}}
    return Receipt(epos_id, kind, doc_number, amount, body)


def _line(item, options):
    total = money(item.get("TotalPrice", 0))
    quantity = Decimal(str(item.get("Quantity") or 1))
    return {"Amount": float(total), "Description": str(item.get("ProductName") or "")[:4000],
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": str(options["qbo_item"])}, "Qty": float(quantity),
                                    "UnitPrice": float((total / quantity).quantize(Decimal("0.01")))}}


def epos_total(transactions):
    """Net takings of the day as EPOS reports them: complete sales less complete refunds, in cents."""
    total = Decimal("0.00")
    for transaction in transactions:
        if not is_posted(transaction):
            continue
        amount = money(transaction.get("TotalAmount", 0))
        total += -amount if transaction.get("TransactionType") == "Refund" else amount
    return total


def local_time(transaction):
    """The transaction's wall-clock time as EPOS reports it."""
    try:
        return datetime.fromisoformat(str(transaction.get("DateTime")))
    except ValueError:
        raise ReceiptError(f"EPOS transaction {transaction.get('Id')} has no valid DateTime") from None
