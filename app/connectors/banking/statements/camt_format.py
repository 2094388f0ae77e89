"""ISO 20022 camt.053 (bank to customer statement), versions .001.02 to .001.08, read with lxml's iterparse
entry by entry (each cleared once read), so a statement of 100,000 entries reads at flat memory."""
import io
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from .checks import normalise_account
from .model import Line, Statement, StatementError

CAMT053 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001."
OPENING, CLOSING = ("OPBD", "PRCD"), ("CLBD",)


def is_camt(head: bytes):
    return b"<Document" in head[:4000] or b":Document" in head[:4000]


def parse(content: bytes):
    namespace = _namespace(content)
    ns = "{" + namespace + "}"
    statements, current = [], None
    events = etree.iterparse(io.BytesIO(content), events=("start", "end"), resolve_entities=False, no_network=True,
                             huge_tree=True)
    try:
        for event, elem in events:
            tag = elem.tag
            if event == "start":
                if tag == ns + "Stmt":
                    current = {"lines": [], "balances": {}}
                continue
            if current is None:
                continue
            if tag == ns + "Ntry":
                current["lines"].append(_entry(elem, ns, len(current["lines"]) + 1))
                _forget(elem)
            elif tag == ns + "Bal":
                _balance(elem, ns, current["balances"])
            elif tag == ns + "Stmt":
                statements.append(_statement(elem, ns, current))
                current = None
                elem.clear()
    except etree.XMLSyntaxError as exc:
        line = getattr(exc, "lineno", None) or (exc.position[0] if getattr(exc, "position", None) else "?")
        raise StatementError(f"not well-formed XML at line {line}: {exc.msg if hasattr(exc, 'msg') else exc}; "
                             "the file is truncated or corrupt: download it again.") from None
    if not statements:
        raise StatementError("the camt.053 file holds no statement (<Stmt>).")
    return statements


def _namespace(content):
    try:
        _, root = next(etree.iterparse(io.BytesIO(content), events=("start",), resolve_entities=False,
                                       no_network=True))
    except (etree.XMLSyntaxError, StopIteration) as exc:
        raise StatementError(f"not well-formed XML: {exc}; the file is truncated or corrupt.") from None
    namespace = etree.QName(root).namespace or ""
    if not namespace.startswith(CAMT053):
        kind = namespace.rsplit(":", 1)[-1] or "no namespace"
        raise StatementError(f"this XML is {kind}, not a camt.053 bank statement (camt.052 and camt.054 are intraday "
                             "reports and notifications; pain.001 is a payment order).")
    return namespace


def _forget(entry):
    """Drop a read entry, and the entries before it, from the tree being built (flat memory)."""
    entry.clear()
    while (previous := entry.getprevious()) is not None and previous.tag == entry.tag:
        previous.getparent().remove(previous)


def _find(elem, ns, path):
    return elem.find(ns + path.replace("/", "/" + ns))


def _get(elem, ns, path):
    found = _find(elem, ns, path)
    return (found.text or "").strip() if found is not None and found.text else ""


def _amount(elem, ns, where):
    amt = _find(elem, ns, "Amt")
    if amt is None or not (amt.text or "").strip():
        raise StatementError(f"{where}: no amount (<Amt>).")
    try:
        value = Decimal(amt.text.strip())
    except InvalidOperation:
        raise StatementError(f"{where}: amount {amt.text.strip()!r} is not a number.") from None
    sign = _get(elem, ns, "CdtDbtInd")
    if sign not in ("CRDT", "DBIT"):
        raise StatementError(f"{where}: credit/debit mark {sign!r} is neither CRDT nor DBIT.")
    return (value if sign == "CRDT" else -value), (amt.get("Ccy") or "").upper()


def _day(elem, ns, path, where):
    raw = _get(elem, ns, path + "/Dt") or _get(elem, ns, path + "/DtTm")[:10]
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise StatementError(f"{where}: date {raw!r} is not a date (YYYY-MM-DD).") from None


def _entry(elem, ns, n):
    where = f"entry {n}"
    amount, currency = _amount(elem, ns, where)
    booked = _day(elem, ns, "BookgDt", where) or _day(elem, ns, "ValDt", where)
    if booked is None:
        raise StatementError(f"{where}: no booking date (<BookgDt>).")
    tx = _find(elem, ns, "NtryDtls/TxDtls")
    get = (lambda path: _get(tx, ns, path)) if tx is not None else (lambda path: "")
    incoming = amount > 0
    party = "Dbtr" if incoming else "Cdtr"
    name = get(f"RltdPties/{party}/Nm") or get(f"RltdPties/{party}/Pty/Nm")
    account = get(f"RltdPties/{party}Acct/Id/IBAN") or get(f"RltdPties/{party}Acct/Id/Othr/Id")
    remittance = " ".join((u.text or "").strip() for u in tx.iter(ns + "Ustrd")) if tx is not None else ""
    e2e = get("Refs/EndToEndId")
    return Line(booking_date=booked, value_date=_day(elem, ns, "ValDt", where), amount=amount, currency=currency,
                bank_reference=_get(elem, ns, "AcctSvcrRef") or get("Refs/AcctSvcrRef"),
                end_to_end_id="" if e2e.upper() == "NOTPROVIDED" else e2e,
                reference=get("Refs/InstrId") or get("RmtInf/Strd/CdtrRefInf/Ref"), name=name,
                counterparty_account=account, remittance=remittance)


def _balance(elem, ns, balances):
    code = _get(elem, ns, "Tp/CdOrPrtry/Cd")
    amount, _ = _amount(elem, ns, f"balance {code}")
    balances[code] = (amount, _day(elem, ns, "Dt", f"balance {code}"))


def _statement(elem, ns, current):
    statement_id = _get(elem, ns, "Id")
    raw_account = _get(elem, ns, "Acct/Id/IBAN") or _get(elem, ns, "Acct/Id/Othr/Id")
    if not raw_account:
        raise StatementError(f"statement {statement_id}: no account (<Acct><Id>).")
    balances = current["balances"]
    opening = next((balances[c] for c in OPENING if c in balances), (None, None))
    closing = next((balances[c] for c in CLOSING if c in balances), (None, None))
    lines = current["lines"]
    currency = (_get(elem, ns, "Acct/Ccy") or (lines[0].currency if lines else "")).upper()
    return Statement(format="camt053", account=normalise_account(raw_account, f"statement {statement_id}: "),
                     currency=currency, statement_id=statement_id, opening_balance=opening[0], opening_date=opening[1],
                     closing_balance=closing[0], closing_date=closing[1], lines=tuple(lines))
