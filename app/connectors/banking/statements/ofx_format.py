"""OFX bank statements, 1.x (SGML) and 2.x (XML), read with ofxtools."""
import io
from datetime import date
from decimal import Decimal, InvalidOperation

from ofxtools.Parser import OFXTree

from .checks import normalise_account
from .model import Line, Statement, StatementError


def is_ofx(head: bytes):
    text = head[:2000].upper()
    return b"OFXHEADER" in text or b"<OFX>" in text or b"<?OFX" in text


def parse(content: bytes):
    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(content))
        raw = tree.getroot()
        _check_values(raw)
        ofx = tree.convert()
    except StatementError:
        raise
    except Exception as exc:  # ofxtools raises its own, ValueError and SyntaxError alike: all mean "not valid OFX"
        raise StatementError(f"not a valid OFX statement: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}; "
                             "download it again or export it as OFX 2 (XML).") from None
    # ofxtools turns DTPOSTED into UTC, which moves a late-evening posting to the next day: the
    # booking date is the bank's own calendar day, as written, so the raw texts are read alongside.
    raw_statements = list(raw.iter("STMTRS"))
    statements = [_statement(stmt, raw_statements[n] if n < len(raw_statements) else None)
                  for n, stmt in enumerate(getattr(ofx, "statements", []))]
    if not statements:
        raise StatementError("the OFX file holds no bank statement (STMTRS); credit card and investment "
                             "statements are not read.")
    return statements


def _check_values(raw):
    """Amounts and dates checked before ofxtools converts them: its own errors (decimal.InvalidOperation
    …) say neither which transaction nor which value."""
    for n, tx in enumerate(raw.iter("STMTTRN"), 1):
        where = f"transaction {n} (FITID {(tx.findtext('FITID') or '?').strip()})"
        amount = (tx.findtext("TRNAMT") or "").strip()
        try:
            Decimal(amount.replace(",", "."))  # ofxtools accepts a decimal comma too
        except InvalidOperation:
            raise StatementError(f"not a valid OFX statement: {where}: TRNAMT {amount!r} is not an amount "
                                 "(e.g. -42.17).") from None
        posted = (tx.findtext("DTPOSTED") or "").strip()
        try:
            _raw_day(posted)
        except ValueError:
            raise StatementError(f"not a valid OFX statement: {where}: DTPOSTED {posted!r} is not a date "
                                 "(YYYYMMDD…).") from None


def _statement(stmt, raw):
    account = stmt.account
    acctid = (getattr(account, "acctid", "") or "").strip()
    currency = (stmt.curdef or "").upper()
    raw_txs = list(raw.iter("STMTTRN")) if raw is not None else []
    txs = list(stmt.banktranlist or [])
    lines = tuple(_line(tx, currency, raw_txs[n] if len(raw_txs) == len(txs) else None) for n, tx in enumerate(txs))
    # OFX gives the ledger balance only: the opening is what it was before these lines, so it always chains.
    closing = stmt.ledgerbal.balamt if stmt.ledgerbal is not None else None
    total = sum((line.amount for line in lines), Decimal("0"))
    dates = [line.booking_date for line in lines]
    bankid = (getattr(account, "bankid", "") or "").strip()
    # The account is ACCTID alone (it is what the bank account is configured with); BANKID goes in the id.
    span = (f"{min(dates):%Y-%m-%d}", f"{max(dates):%Y-%m-%d}") if dates else ()
    statement_id = ":".join(filter(None, (bankid, acctid, *span)))
    as_of = raw.find(".//LEDGERBAL/DTASOF") if raw is not None else None
    return Statement(format="ofx", account=normalise_account(acctid, f"account {acctid}: "), currency=currency,
                     statement_id=statement_id,
                     opening_balance=None if closing is None else _money(closing - total),
                     opening_date=min(dates) if dates else None,
                     closing_balance=None if closing is None else _money(closing),
                     closing_date=_raw_day(as_of.text) if as_of is not None else None, lines=lines)


def _raw_day(text):
    """The calendar day of an OFX date as written (YYYYMMDD…), whatever its time and zone."""
    text = (text or "").strip()
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def _line(tx, currency, raw):
    memo, name = (tx.memo or "").strip(), (tx.name or "").strip()
    if raw is not None:  # the bank's calendar days, as written
        posted = _raw_day(raw.findtext("DTPOSTED"))
        available = _raw_day(raw.findtext("DTAVAIL")) if (raw.findtext("DTAVAIL") or "").strip() else posted
    else:
        posted = tx.dtposted.date()
        available = tx.dtavail.date() if getattr(tx, "dtavail", None) else posted
    currency_agg = getattr(tx, "currency", None)
    return Line(booking_date=posted, value_date=available, amount=_money(tx.trnamt),
                currency=(currency_agg.cursym if currency_agg is not None else currency).upper(),
                fitid=(tx.fitid or "").strip(), reference=(tx.refnum or tx.checknum or "").strip(), name=name,
                remittance=memo or name)


def _money(value):
    return Decimal(value).quantize(Decimal("0.01"))
