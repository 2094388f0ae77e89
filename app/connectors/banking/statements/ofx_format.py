"""OFX bank statements, 1.x (SGML) and 2.x (XML), read with ofxtools."""
import io
from decimal import Decimal

from ofxtools.Parser import OFXTree

from .checks import normalise_account
from .model import Line, Statement, StatementError


def is_ofx(head: bytes):
    text = head[:2000].upper()
    return b"OFXHEADER" in text or b"<OFX>" in text


def parse(content: bytes):
    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(content))
        ofx = tree.convert()
    except Exception as exc:  # ofxtools raises its own, ValueError and SyntaxError alike: all mean "not valid OFX"
        raise StatementError(f"not a valid OFX statement: {type(exc).__name__}: {str(exc)[:300]}; download it "
                             "again or export it as OFX 2 (XML).") from None
    statements = [_statement(stmt) for stmt in getattr(ofx, "statements", [])]
    if not statements:
        raise StatementError("the OFX file holds no bank statement (STMTRS).")
    return statements


def _statement(stmt):
    account = stmt.account
    raw = getattr(account, "acctid", "") or ""
    currency = (stmt.curdef or "").upper()
    lines = tuple(_line(tx, currency) for tx in (stmt.banktranlist or []))
    # OFX gives the ledger balance only: the opening is what it was before these lines, so it always chains.
    closing = stmt.ledgerbal.balamt if stmt.ledgerbal is not None else None
    total = sum((line.amount for line in lines), Decimal("0"))
    dates = [line.booking_date for line in lines]
    statement_id = f"{raw}:{min(dates)}:{max(dates)}" if dates else raw
    return Statement(format="ofx", account=normalise_account(raw, f"account {raw}: "), currency=currency,
                     statement_id=statement_id, opening_balance=None if closing is None else closing - total,
                     opening_date=min(dates) if dates else None, closing_balance=closing,
                     closing_date=stmt.ledgerbal.dtasof.date() if stmt.ledgerbal is not None else None, lines=lines)


def _line(tx, currency):
    memo, name = (tx.memo or "").strip(), (tx.name or "").strip()
    posted = tx.dtposted.date()
    return Line(booking_date=posted, value_date=tx.dtavail.date() if getattr(tx, "dtavail", None) else posted,
                amount=Decimal(tx.trnamt).quantize(Decimal("0.01")), currency=(getattr(tx, "currency", None) and
                                                                                tx.currency.cursym) or currency,
                fitid=(tx.fitid or "").strip(), reference=(tx.refnum or tx.checknum or "").strip(), name=name,
                remittance=memo or name)
