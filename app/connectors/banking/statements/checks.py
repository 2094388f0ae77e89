"""Checks every format shares: an account that looks like an IBAN must be one; balances must chain."""
import re
from decimal import Decimal

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from .model import StatementError

LOOKS_LIKE_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{8,30}")


def normalise_account(raw, where=""):
    """The account as stored: an IBAN validated and compacted, anything else as given (trimmed)."""
    compact = "".join(str(raw or "").split()).upper()
    if not LOOKS_LIKE_IBAN.fullmatch(compact):
        return str(raw or "").strip()
    try:
        return IBAN(compact).compact
    except SchwiftyException as exc:
        raise StatementError(f"{where}account {compact} is not a valid IBAN: {exc}; check the file (or the "
                             "account's settings).") from None


def check_balances(statements):
    """Opening + lines = closing for each statement, and each closing = the next statement's opening."""
    previous = {}
    for statement in statements:
        name = f"statement {statement.statement_id or '(no id)'} of account {statement.account}"
        total = sum((line.amount for line in statement.lines), Decimal("0"))
        if statement.opening_balance is not None and statement.closing_balance is not None:
            expected = statement.opening_balance + total
            if expected != statement.closing_balance:
                raise StatementError(f"{name}: opening {statement.opening_balance:,.2f} + lines {total:,.2f} = "
                                     f"{expected:,.2f}, but the closing balance is {statement.closing_balance:,.2f}; "
                                     "the file is incomplete or altered.")
        before = previous.get(statement.account)
        if before is not None and before.closing_balance is not None and statement.opening_balance is not None \
                and before.closing_balance != statement.opening_balance:
            raise StatementError(f"{name} opens at {statement.opening_balance:,.2f}, but the statement before it "
                                 f"({before.statement_id}) closed at {before.closing_balance:,.2f}: the statements "
                                 "do not chain (one is missing?).")
        previous[statement.account] = statement
    return statements


def check_currencies(statement):
    for n, line in enumerate(statement.lines, 1):
        if line.currency != statement.currency:
            raise StatementError(f"entry {n} of statement {statement.statement_id} is in {line.currency}, the "
                                 f"statement in {statement.currency}: a statement is of one currency account; export each "
                                 "currency's account on its own.")
