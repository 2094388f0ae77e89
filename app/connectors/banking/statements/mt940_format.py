"""SWIFT MT940 customer statements: one or more :20: blocks, optionally in {1:}{2:}{4: envelopes.

The mt-940 package reads each statement's tags. The file is first cut into its :20: blocks here and
every :61: line checked here too, because the package can skip a malformed :61: silently or fail with
no file position: the operator must learn the file's line number and what is wrong with it.
"""
import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

import mt940

from .checks import normalise_account
from .model import Line, Statement, StatementError

_TAG = re.compile(r"^:(\d{2}[A-Z]?):")
# SEPA keywords banks put in :86: (German DFÜ annex, also used bare by many banks and by our writer).
_SEPA = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|COAM|OAMT|SVWZ|ABWA|ABWE|NAME|IBAN|BIC)\+")
# The ?NN subfields of a structured :86: (?00 text, ?20-?29 purpose, ?30 bank, ?31 account, ?32-?33 name).
_QUESTION = re.compile(r"\?(\d{2})")
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
        line = _unwrap(raw.rstrip())
        if not line or line.startswith("-"):  # blank, or the end of a message ("-" or "-}")
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


def _unwrap(line):
    """A line without its SWIFT envelope: '{1:…}{2:…}{4:' heads are dropped, text after '{4:' kept."""
    if not line.startswith("{"):
        return line
    return line.split("{4:", 1)[1].strip() if "{4:" in line else ""


def _statement(fields):
    reference = fields[0][2].strip()
    seen = {tag[:2] for _, tag, _ in fields}
    for prefix, label in MANDATORY:
        if prefix not in seen:
            raise StatementError(f"statement {reference} (line {fields[0][0]}): no {label} tag; the file is "
                                 "incomplete: download it again.")
    for number, tag, value in fields:
        if tag == "61":
            _check_61(number, value.split("\n")[0].strip())
    parsed = mt940.models.Transactions()
    try:
        parsed.parse("\n".join(f":{tag}:{value}" for _, tag, value in fields) + "\n-")
    except (RuntimeError, ValueError, TypeError, KeyError) as exc:
        raise StatementError(_refusal(fields, exc)) from None
    return _build(parsed, reference, fields)


def _build(parsed, reference, fields):
    data = parsed.data
    opening = data.get("final_opening_balance") or data.get("intermediate_opening_balance")
    closing = data.get("final_closing_balance") or data.get("intermediate_closing_balance")
    if opening is None or closing is None:  # the tag was there but did not read as a balance
        raise StatementError(f"statement {reference} (line {fields[0][0]}): the opening or closing balance "
                             "(:60F:/:62F:) does not read as D/C mark, YYMMDD, currency and amount.")
    number = "/".join(filter(None, (data.get("statement_number"), data.get("sequence_number"))))
    statement_id = f"{reference}/{number}" if number else reference
    currency = str(opening.amount.currency).upper()
    details = _raw_details(fields)
    lines = tuple(_line(tx.data, currency, details[n] if n < len(details) else "")
                  for n, tx in enumerate(parsed.transactions))
    if len(lines) != sum(1 for _, tag, _ in fields if tag == "61"):  # never import a statement with a line lost
        raise StatementError(f"statement {statement_id}: {len(lines)} transactions read of "
                             f"{sum(1 for _, tag, _ in fields if tag == '61')} :61: lines; nothing was imported.")
    account = _account(str(data.get("account_identification") or ""), currency)
    return Statement(format="mt940", account=normalise_account(account, f"statement {statement_id}: "),
                     currency=currency, statement_id=statement_id, opening_balance=_money(opening.amount.amount),
                     opening_date=_day(opening.date), closing_balance=_money(closing.amount.amount),
                     closing_date=_day(closing.date), lines=lines)


def _account(raw, currency):
    """:25: as given; some banks (ING) append the currency to the IBAN ('NL…0123456789EUR'): drop it."""
    compact = "".join(raw.split()).upper()
    if len(compact) > 18 and compact[:2].isalpha() and compact.endswith(currency):
        return compact[:-3]
    return raw.strip()


@lru_cache(maxsize=4096)
def _yymmdd(text):
    # a statement repeats the same few dates: strptime once per date, not per line
    return datetime.strptime(text, "%y%m%d")


def _check_61(number, value):
    """Refuse a :61: line the way an operator can act on: its file line number and what is wrong."""
    where = f"line {number}: bad :61: line {value[:60]!r}"
    if not re.match(r"\d{6}", value):
        raise StatementError(f"{where}: bad date: it must start with the value date as YYMMDD.")
    try:
        _yymmdd(value[:6])
    except ValueError:
        raise StatementError(f"{where}: bad date {value[:6]!r}: not a real date (YYMMDD).") from None
    rest = value[6:]
    if re.match(r"\d{4}", rest):  # the optional booking (entry) date, MMDD
        try:
            date(2000, int(rest[:2]), int(rest[2:4]))  # 2000: a leap year, so 0229 is allowed
        except ValueError:
            raise StatementError(f"{where}: bad date: booking date {rest[:4]!r} is not a real MMDD.") from None
        rest = rest[4:]
    mark = re.match(r"R?[DC]", rest)
    if not mark:
        raise StatementError(f"{where}: bad D/C mark {rest[:2]!r}: the debit/credit mark must be C, D, RC or RD.")
    if not re.match(r"[A-Z]?\d[\d]{0,14},\d{0,2}", rest[mark.end():]):
        raise StatementError(f"{where}: no amount after the debit/credit mark (digits with a decimal comma, "
                             "e.g. 125,00).")
    if not re.match(r"[A-Z]?[\d,]+[A-Z][A-Z0-9]{3}", rest[mark.end():]):
        raise StatementError(f"{where}: no transaction type (e.g. NTRF) after the amount.")


def _refusal(fields, exc):
    """The operator's message for a statement mt-940 refused: the file line and why, as best known."""
    bad = str(exc.args[2]) if len(exc.args) > 2 else ""
    for number, tag, value in fields:
        if bad and value.split("\n")[0].strip() == bad.split("\n")[0].strip():
            return (f"line {number}: bad :{tag}: line {value.split(chr(10))[0].strip()[:60]!r}: it does not read "
                    "as that tag; nothing was imported.")
    return (f"statement {fields[0][2].strip()} (line {fields[0][0]}): {exc.args[0] if exc.args else exc}; "
            "nothing was imported.")


def _raw_details(fields):
    """The :86: text of each :61:, as in the file ('' when a :61: has none). Read here, not from mt-940,
    because mt-940 replaces a ?NN-structured :86: with its own keys and drops the text."""
    details = []
    for _, tag, value in fields:
        if tag == "61":
            details.append("")
        elif tag == "86" and details and not details[-1]:
            details[-1] = value
        elif tag[:2] in ("62", "64", "65"):  # a :86: after the closing balance is about the statement
            break
    return details


def _line(tx, currency, raw_details):
    details = _details(raw_details)
    reference = (tx.get("customer_reference") or "").strip()
    return Line(booking_date=_day(tx.get("entry_date") or tx["date"]), value_date=_day(tx["date"]),
                amount=_money(tx["amount"].amount), currency=currency,
                bank_reference=(tx.get("bank_reference") or "").strip(), end_to_end_id=details.get("EREF", ""),
                reference="" if reference.upper() == "NONREF" else reference, name=details.get("NAME", ""),
                counterparty_account=details.get("IBAN", ""), remittance=details.get("text", ""))


def _details(raw):
    """{EREF, NAME, IBAN, text} of a :86:, whichever of its three shapes it has: ?NN subfields, SEPA
    keywords (EREF+ … SVWZ+ …) or free text."""
    if _QUESTION.search(raw) and re.match(r"\s*(\d{3})?\?", raw):
        return _question_fields(raw.replace("\n", ""))
    text = raw.replace("\n", "")  # structured text is wrapped at 65 characters anywhere: rejoin as is
    fields = _sepa(text)
    if fields:
        return fields
    return {"text": " ".join(raw.split())}  # free text: its line breaks are just spaces


def _question_fields(text):
    parts = _QUESTION.split(text)
    sub = {}
    for n in range(1, len(parts) - 1, 2):
        sub.setdefault(parts[n], "")
        sub[parts[n]] += parts[n + 1]
    purpose = "".join(sub.get(f"{n}", "") for n in range(20, 30)) + "".join(sub.get(f"{n}", "") for n in range(60, 64))
    fields = _sepa(purpose) or {"text": " ".join(purpose.split())}
    name = " ".join(filter(None, (sub.get("32", "").strip(), sub.get("33", "").strip())))
    if name:
        fields["NAME"] = name
    if sub.get("31", "").strip():
        fields.setdefault("IBAN", sub["31"].strip())
    return fields


def _sepa(text):
    """{keyword: value} of SEPA-keyword text, its SVWZ+ as 'text'; {} when it has none."""
    parts = _SEPA.split(text)
    if len(parts) < 3:
        return {}
    fields = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    fields["text"] = fields.get("SVWZ", " ".join(parts[0].split()))
    return fields


def _day(value):
    return date(value.year, value.month, value.day)


def _money(value):
    return Decimal(value).quantize(Decimal("0.01"))
