"""Import a statement file whole or not at all: parse, check, deduplicate by identity, store, count.

Rejected files are recorded too (with the reason), so the imports page shows every file offered.
Imports hold the lock `banking:lines`, so two imports never race over the same identities; the
insert still skips an identity that exists, whoever wrote it. On PostgreSQL the new lines go in
with one streamed COPY (insert_missing: 100,000 lines in about a second, see bench/bulk_reconcile.py).
"""
from ...auth import activity
from ...db import utcnow
from ...extensions import db
from ..base.connections import get_connection
from ..base.loading import insert_missing
from ..base.upload import get_upload, open_upload
from .accounts import CONNECTOR, csv_profile, known_accounts
from .identity import identities, normalise_account
from .models import BankImport, BankLine
from .statements import StatementError, parse_statement


class ImportRejected(Exception):
    """The file was refused whole; the import row saying why is committed."""

    def __init__(self, record):
        super().__init__(record.reason)
        self.record = record


def import_statement(sha256, account_key="", username="", run_id=None, progress=None):
    """Import the uploaded file; returns its committed BankImport (accepted) or raises ImportRejected."""
    upload = get_upload(sha256)
    filename = upload.filename
    db.session.rollback()
    record = BankImport(upload_sha256=upload.sha256, filename=filename, status="rejected", run_id=run_id,
                        imported_by=username or "")
    try:
        statements = _parse(sha256, filename, account_key)
        record.format = statements[0].format
        record.account = statements[0].account
        record.statement_ids = ", ".join(s.statement_id for s in statements if s.statement_id)[:2000]
        record.lines_total = sum(len(s.lines) for s in statements)
        _check_accounts(statements, account_key)
    except StatementError as exc:
        record.reason = str(exc)
        record.lines_rejected = record.lines_total
        _store_rejected(record, username)
        raise ImportRejected(record) from None
    new = _store_lines(record, statements, progress)
    record.status, record.lines_new = "accepted", new
    record.lines_duplicate = record.lines_total - new
    activity.record("statement_imported", target=f"bank_import/{record.id}",
                    detail=f"{filename}: {record.lines_total} lines, {new} new, {record.lines_duplicate} duplicate "
                           f"({record.format}, account {record.account})", username=username)
    db.session.commit()
    return record


def _parse(sha256, filename, account_key):
    """The file's statements; StatementError (the reason shown to the operator) when it is refused."""
    conn = _account_connection(account_key) if account_key else None
    profile = csv_profile(conn) if conn is not None else None
    hint = normalise_account((conn.settings or {}).get("account")) if conn is not None else ""
    content = open_upload(sha256).read()
    statements = parse_statement(content, filename, csv_profile=profile, account=hint)
    if not statements or not any(s.lines for s in statements):
        raise StatementError(f"{filename} holds no statement lines; nothing to import.")
    return statements


def _account_connection(account_key):
    try:
        return get_connection(CONNECTOR, account_key)
    except LookupError:
        raise StatementError(f"No bank account {account_key!r}; add it under Banking → Accounts.") from None


def _check_accounts(statements, account_key):
    accounts = known_accounts()
    for statement in statements:
        account = normalise_account(statement.account)
        if account not in accounts:
            known = ", ".join(sorted(accounts)) or "none yet"
            raise StatementError(f"Statement {statement.statement_id or ''} is for account {account}, which is "
                                 f"not one of ours (known: {known}); add the account under Banking → Accounts "
                                 "or check the file.")
        if account_key and accounts[account].key != account_key:
            raise StatementError(f"The file is for account {account}, but it was uploaded for account "
                                 f"{account_key!r}.")


def _store_rejected(record, username):
    db.session.rollback()
    db.session.add(record)
    db.session.flush()
    activity.record("statement_rejected", target=f"bank_import/{record.id}",
                    detail=f"{record.filename}: {record.reason}"[:2000], username=username)
    db.session.commit()


def _store_lines(record, statements, progress):
    """Insert the lines not stored yet, with the import row, in one transaction; returns how many.

    The unique identity decides what is new, whoever stored it and whatever its day (a bank id
    re-sent with a corrected date is still a duplicate).
    """
    db.session.add(record)
    db.session.flush()
    total = record.lines_total
    return insert_missing(db.session.connection(), BankLine.__table__, COLUMNS, _rows(record.id, statements),
                          key="identity", progress=(lambda sent: progress(sent, total)) if progress else None)


COLUMNS = ("identity", "account", "booking_date", "value_date", "amount", "currency", "bank_reference",
           "end_to_end_id", "fitid", "reference", "name", "counterparty_account", "remittance", "import_id",
           "match_status", "match_rule", "invoices", "match_note", "matched_by", "created_at", "updated_at")


def _rows(import_id, statements):
    """The rows (COLUMNS) of the file's lines, each identity once (a file can repeat a booking)."""
    seen, now = set(), utcnow()
    for statement in statements:
        account = normalise_account(statement.account)
        for identity, line in zip(identities(account, statement.lines), statement.lines):
            if identity not in seen:
                seen.add(identity)
                yield (identity, account, line.booking_date, line.value_date, line.amount, line.currency,
                       line.bank_reference[:140], line.end_to_end_id[:140], line.fitid[:140], line.reference[:140],
                       line.name[:300], line.counterparty_account[:64], line.remittance, import_id,
                       "debit" if line.amount < 0 else "unmatched", "",
                       [], "", "", now, now)
