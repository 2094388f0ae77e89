"""SWIFT MT940 customer statements: one or more :20: blocks, optionally in {1:}{2:}{4: envelopes.

Read tag by tag here rather than through the mt-940 package: that package matches :61: lines with a
regular expression and passes over one that does not match, where a statement must be refused whole
and the operator told which line is wrong.
"""
import re
from datetime import date
from decimal import Decimal

from .checks import normalise_account
from .model import Line, Statement, StatementError

_TAG = re.compile(r"^:(\d{2}[A-Z]?):")
_BALANCE = re.compile(r"^([CD])(\d{6})([A-Z]{3})(\d{1,15},\d{0,2})$")
_61 = re.compile(r"^(?P<date>\d{6})(?P<entry>\d{4})?(?P<mark>RC|RD|C|D)(?P<funds>[A-Z])?(?P<amount>\d{1,15},\d{0,2})"
                 r"(?P<type>[NSF][A-Z0-9]{3})(?P<ref>.{0,16}?)(?://(?P<bank>.{1,16}))?$")
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
    """[[(line number, tag, value)]] per :20: statement, continuation lines joined to their tag."""
    blocks, fields = [], None
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        line = raw.rstrip()
        if line.startswith("{") or line in ("-", "-}", "") or line.startswith("-}"):
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
    seen = {tag[:2] for _, tag, _ in fields}
    reference = next(value for _, tag, value in fields if tag == "20").strip()
    for prefix, label in MANDATORY:
        if prefix not in seen:
            raise StatementError(f"statement {reference}: no {label} tag; the file is incomplete.")
    account, number, opening, closing, lines = "", "", None, None, []
    for n, (line_no, tag, value) in enumerate(fields):
        if tag == "25":
            account = value.strip().split("/")[-1]
        elif tag == "28C":
            number = value.strip()
        elif tag.startswith("60"):
            opening = _balance(value, line_no, tag)
        elif tag.startswith("62"):
            closing = _balance(value, line_no, tag)
        elif tag == "61":
            details = fields[n + 1][2] if n + 1 < len(fields) and fields[n + 1][1] == "86" else ""
            lines.append(_entry(value, details, line_no, opening[2] if opening else ""))
    statement_id = f"{reference}/{number}" if number else reference
    return Statement(format="mt940", account=normalise_account(account, f"statement {statement_id}: "),
                     currency=opening[2], statement_id=statement_id, opening_balance=opening[0],
                     opening_date=opening[1], closing_balance=closing[0], closing_date=closing[1], lines=tuple(lines))


def _balance(value, line_no, tag):
    match = _BALANCE.match(value.strip())
    if not match:
        raise StatementError(f"line {line_no}: :{tag}:{value.strip()[:40]} is not a balance (C|D, YYMMDD, currency, "
                             "amount with a decimal comma).")
    mark, day, currency, amount = match.groups()
    value = _decimal(amount)
    return (value if mark == "C" else -value), _yymmdd(day, line_no), currency


def _entry(value, details, line_no, currency):
    first, _, supplementary = value.partition("\n")
    match = _61.match(first.strip())
    if not match:
        raise StatementError(f"line {line_no}: bad :61: line {first.strip()[:60]!r}: {_why(first.strip())}; "
                             "nothing was imported.")
    booked = _yymmdd(match["date"], line_no)
    amount = _decimal(match["amount"])
    if match["mark"] in ("D", "RC"):
        amount = -amount
    ref = match["ref"].strip()
    fields = _subfields(details)
    remittance = fields.get("SVWZ", " ".join(details.split()) if not fields else "")
    return Line(booking_date=booked, value_date=booked, amount=amount, currency=currency,
                bank_reference=(match["bank"] or "").strip(), end_to_end_id=fields.get("EREF", ""),
                reference="" if ref.upper() == "NONREF" else ref, name=fields.get("NAME", ""),
                counterparty_account=fields.get("IBAN", ""), remittance=remittance)


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


def _decimal(amount):
    return Decimal(amount.replace(",", ".") + ("0" if amount.endswith(",") else "")).quantize(Decimal("0.01"))


def _yymmdd(raw, line_no):
    try:
        return date(2000 + int(raw[:2]), int(raw[2:4]), int(raw[4:6]))
    except ValueError:
        raise StatementError(f"line {line_no}: {raw} is not a date (YYMMDD).") from None
