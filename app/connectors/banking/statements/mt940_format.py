"""SWIFT MT940 customer statements: one or more :20: blocks, optionally in {1:}{2:}{4: envelopes.

The mt-940 package reads each statement's tags; the file is first cut into its :20: blocks here, so
that a statement the package refuses is reported with the file's line number and the reason.
"""
import re
from datetime import date
from decimal import Decimal

import mt940

from .checks import normalise_account
from .model import Line, Statement, StatementError

_TAG = re.compile(r"^:(\d{2}[A-Z]?):")
_SUBFIELD = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|NAME|IBAN)\+")
MANDATORY = (("25", ":25: (account)"), ("60", ":60F: (opening balance)"), ("62", ":62F: (closing balance)"))


def is_mt940(text: str):
    head = text.lstrip()[:2000]
    return head.startswith("{1:") or head.startswith(":20:") or "\n:20:" in head


def parse(text: str):
    blocks = _blocks(text)
    if not blocks:
        raise StatementError("the MT940 file holds no statement (no :20: tag).")
    return [_statement(block) for block in blocks]


def _blocks(text):
    """[[line number, tag, value]] per :20: statement, continuation lines joined to their tag."""
    blocks, fields = [], None
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        line = raw.rstrip()
        if line.startswith("{") or line.startswith("-") or not line:
            continue
        match = _TAG.match(line)
        if match:
            tag = match.group(1)
            if tag == "20":
                fields = []
                blocks.append(fields)
            if fields is None:
                raise StatementError(f"line {number}: :{tag}: before the first :20: (transaction reference).")
            fields.append([number, tag, line[match.end():]])
        elif fields:
            fields[-1][2] += "\n" + line
        else:
            raise StatementError(f"line {number}: {line[:40]!r} is not an MT940 tag.")
    return blocks


def _statement(fields):
    reference = fields[0][2].strip()
    seen = {tag[:2] for _, tag, _ in fields}
    for prefix, label in MANDATORY:
        if prefix not in seen:
            raise StatementError(f"statement {reference}: no {label} tag; the file is incomplete.")
    parsed = mt940.models.Transactions()
    try:
        parsed.parse("\n".join(f":{tag}:{value}" for _, tag, value in fields) + "\n-")
    except (RuntimeError, ValueError, TypeError) as exc:
        raise StatementError(_refusal(fields, exc)) from None
    data = parsed.data
    opening = data.get("final_opening_balance") or data.get("intermediate_opening_balance")
    closing = data.get("final_closing_balance") or data.get("intermediate_closing_balance")
    number = "/".join(filter(None, (data.get("statement_number"), data.get("sequence_number"))))
    statement_id = f"{reference}/{number}" if number else reference
    currency = opening.amount.currency
    lines = tuple(_line(tx.data, currency) for tx in parsed.transactions)
    account = str(data.get("account_identification") or "").split("/")[-1]
    return Statement(format="mt940", account=normalise_account(account, f"statement {statement_id}: "),
                     currency=currency, statement_id=statement_id, opening_balance=_money(opening.amount.amount),
                     opening_date=_day(opening.date), closing_balance=_money(closing.amount.amount),
                     closing_date=_day(closing.date), lines=lines)


def _refusal(fields, exc):
    """The operator's message for a statement mt-940 refused: the file line and why."""
    bad = str(exc.args[2]) if len(exc.args) > 2 else ""
    for number, tag, value in fields:
        if bad and value.split("\n")[0].strip() == bad.split("\n")[0].strip():
            why = _why(value.split("\n")[0].strip()) if tag == "61" else "it does not read as that tag"
            return f"line {number}: bad :{tag}: line {value.split(chr(10))[0].strip()[:60]!r}: {why}; nothing was imported."
    return f"statement {fields[0][2].strip()}: {exc.args[0] if exc.args else exc}; nothing was imported."


def _line(tx, currency):
    fields = _subfields(tx.get("transaction_details") or "")
    details = tx.get("transaction_details") or ""
    reference = (tx.get("customer_reference") or "").strip()
    booked = _day(tx.get("entry_date") or tx["date"])
    return Line(booking_date=booked, value_date=_day(tx["date"]), amount=_money(tx["amount"].amount),
                currency=tx.get("currency") or currency, bank_reference=(tx.get("bank_reference") or "").strip(),
                end_to_end_id=fields.get("EREF", ""), reference="" if reference.upper() == "NONREF" else reference,
                name=fields.get("NAME", ""), counterparty_account=fields.get("IBAN", ""),
                remittance=fields.get("SVWZ", " ".join(details.split()) if not fields else ""))


def _day(value):
    return date(value.year, value.month, value.day)


def _money(value):
    return Decimal(value).quantize(Decimal("0.01"))


def _why(line):
    if not re.match(r"^\d{6}", line):
        return "it must start with the value date as YYMMDD"
    if not re.match(r"^\d{6}(\d{4})?(RC|RD|C|D)", line):
        return "the debit/credit mark (C, D, RC or RD) is missing"
    if not re.match(r"^\d{6}(\d{4})?(RC|RD|C|D)[A-Z]?\d{1,15},", line):
        return "the amount (digits with a decimal comma) is missing"
    return "the transaction type (e.g. NTRF) or the references are malformed"


def _subfields(details):
    """The structured :86: subfields (EREF+, SVWZ+, NAME+ …) as {key: value}; {} for free text."""
    text = details.replace("\n", "")
    parts = _SUBFIELD.split(text)
    if len(parts) < 3:
        return {}
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
