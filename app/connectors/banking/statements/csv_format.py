"""Bank CSV exports, laid out as the account's CsvProfile says: delimiter, decimal mark, date format, columns."""
import csv
import io
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from .checks import normalise_account
from .model import Line, Statement, StatementError


def decode(content: bytes):
    """Text of the file: UTF-8 (with or without BOM), else Windows-1252 (what older bank exports use)."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def parse(text, profile, account, filename=""):
    delimiter = _delimiter(text, profile.delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise StatementError("the CSV file is empty.") from None
    columns = _columns(header, profile)
    rows, lines, balances = 0, [], []
    for number, row in enumerate(reader, 2):
        if not any(cell.strip() for cell in row):
            continue
        rows += 1
        line, balance = _line(row, number, columns, profile)
        lines.append(line)
        balances.append(balance)
    row_account = account
    if columns.get("account") is not None:
        found = {_cell(r, columns["account"]) for r in csv.reader(io.StringIO(text, newline=""),
                                                                    delimiter=delimiter)} - {header[columns["account"]]}
        found.discard("")
        if len(found) > 1:
            raise StatementError(f"the CSV holds lines of {len(found)} accounts ({', '.join(sorted(found)[:5])}); "
                                 "export one account per file.")
        row_account = found.pop() if found else account
    if not row_account:
        raise StatementError("the CSV names no account: choose the account when uploading it.")
    opening = closing = None
    if columns.get("balance") is not None and lines:
        opening, closing = _running_balance(lines, balances)
    return [Statement(format="csv", account=normalise_account(row_account), currency=lines[0].currency if lines
                      else profile.default_currency, statement_id=filename, opening_balance=opening,
                      opening_date=lines[0].booking_date if lines else None, closing_balance=closing,
                      closing_date=lines[-1].booking_date if lines else None, lines=tuple(lines))]


def _delimiter(text, wanted):
    if wanted != "auto":
        return wanted
    try:
        return csv.Sniffer().sniff(text[:4000], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _columns(header, profile):
    index = {name.strip().lower(): n for n, name in enumerate(header)}
    wanted = {"date": profile.date, "value_date": profile.value_date, "amount": profile.amount,
              "credit": profile.credit, "debit": profile.debit, "currency": profile.currency,
              "reference": profile.reference, "bank_reference": profile.bank_reference, "name": profile.name,
              "description": profile.description, "account": profile.account, "balance": profile.balance}
    columns, missing = {}, []
    for key, name in wanted.items():
        if not name:
            continue
        found = index.get(name.strip().lower())
        if found is None and key in ("date", "amount", "credit", "debit", "account", "balance"):
            missing.append(name)
        columns[key] = found
    if not profile.amount and not (profile.credit and profile.debit):
        raise StatementError("the account's CSV layout names neither an amount column nor credit and debit columns.")
    if missing:
        raise StatementError(f"the CSV has no column {', '.join(repr(m) for m in missing)} (found: "
                             f"{', '.join(h.strip() for h in header) or 'none'}); fix the account's CSV columns.")
    return columns


def _cell(row, index):
    return row[index].strip() if index is not None and index < len(row) else ""


def _line(row, number, columns, profile):
    raw_date = _cell(row, columns["date"])
    booked = _date(raw_date, profile, number)
    if columns.get("amount") is not None:
        amount = _money(_cell(row, columns["amount"]), profile, number, "amount")
    else:
        credit = _money(_cell(row, columns["credit"]) or "0", profile, number, "credit")
        debit = _money(_cell(row, columns["debit"]) or "0", profile, number, "debit")
        amount = credit - abs(debit)
    value_raw = _cell(row, columns.get("value_date"))
    balance_raw = _cell(row, columns.get("balance"))
    line = Line(booking_date=booked, value_date=_date(value_raw, profile, number) if value_raw else booked,
                amount=amount, currency=(_cell(row, columns.get("currency")) or profile.default_currency).upper(),
                bank_reference=_cell(row, columns.get("bank_reference")),
                reference=_cell(row, columns.get("reference")),
                name=_cell(row, columns.get("name")), remittance=_cell(row, columns.get("description")))
    return line, (_money(balance_raw, profile, number, "balance") if balance_raw else None)


@lru_cache(maxsize=4096)
def _strptime(raw, date_format):
    # strptime was a third of the parse time; a statement repeats the same few hundred dates
    return datetime.strptime(raw, date_format).date()


def _date(raw, profile, number):
    try:
        return _strptime(raw, profile.date_format)
    except ValueError:
        raise StatementError(f"row {number}: date {raw!r} does not read as {profile.date_format} (the account's "
                             "CSV date format).") from None


def _money(raw, profile, number, what):
    text = raw.replace(" ", "").replace("\u00a0", "")
    if profile.thousands:
        text = text.replace(profile.thousands, "")
    if profile.decimal == ",":
        text = text.replace(",", ".")
    try:
        return Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise StatementError(f"row {number}: {what} {raw!r} is not an amount (decimal mark "
                             f"{profile.decimal!r}).") from None


def _running_balance(lines, balances):
    """The opening and closing balance from a running-balance column, each row checked against the last."""
    first = balances[0]
    if first is None:
        return None, None
    opening = first - lines[0].amount
    running = opening
    for n, (line, balance) in enumerate(zip(lines, balances), 2):
        running += line.amount
        if balance is not None and balance != running:
            raise StatementError(f"row {n}: the balance column says {balance:,.2f}, the amounts add up to "
                                 f"{running:,.2f}: rows are missing or altered.")
    return opening, running
