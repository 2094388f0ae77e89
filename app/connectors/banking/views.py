"""The queries behind Banking's pages: lines with their posting state, imports, reconciliations."""
from sqlalchemy import and_, select

from ...extensions import db
from ..base.push_models import SyncRecord
from ..uisp.models import Customer
from .models import BankImport, BankLine, BulkAllocation, BulkReconciliation
from .posting import STREAM

POST_STATES = ("not_posted", "pending", "synced", "failed")


def _ledger_join():
    return and_(SyncRecord.connector == "banking", SyncRecord.stream == STREAM,
                SyncRecord.source_key == BankLine.identity)


def lines_query(*, status=None, account=None, q=None, posted=None, direction=None, since=None, until=None,
                with_ledger=False):
    """Lines (with their ledger row, None when never sent, if asked), newest booking first."""
    query = select(BankLine, SyncRecord) if with_ledger else select(BankLine)
    query = query.outerjoin(SyncRecord, _ledger_join())
    if status:
        query = query.where(BankLine.match_status == status)
    if account:
        query = query.where(BankLine.account == account)
    if direction == "credit":
        query = query.where(BankLine.amount > 0)
    elif direction == "debit":
        query = query.where(BankLine.amount < 0)
    if since:
        query = query.where(BankLine.booking_date >= since)
    if until:
        query = query.where(BankLine.booking_date <= until)
    if posted == "not_posted":
        query = query.where(SyncRecord.id.is_(None))
    elif posted:
        query = query.where(SyncRecord.status == posted)
    if q:
        like = (BankLine.name.icontains(q, autoescape=True) | BankLine.remittance.icontains(q, autoescape=True)
                | BankLine.reference.icontains(q, autoescape=True)
                | BankLine.bank_reference.icontains(q, autoescape=True))
        query = query.where(like)
    return query.order_by(BankLine.booking_date.desc(), BankLine.id.desc())


def ledger_rows(lines):
    """{identity: SyncRecord} of these lines' postings."""
    identities = [line.identity for line in lines]
    if not identities:
        return {}
    return {r.source_key: r for r in db.session.scalars(select(SyncRecord).where(
        SyncRecord.connector == "banking", SyncRecord.stream == STREAM, SyncRecord.source_key.in_(identities)))}


def ledger_row(line):
    return db.session.scalar(select(SyncRecord).where(_ledger_join(), SyncRecord.source_key == line.identity))


def customers(ids):
    """{client id: Customer} of the cached UISP customers with these ids."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {c.id: c for c in db.session.scalars(select(Customer).where(Customer.id.in_(ids)))}


def customer_by_ref(text):
    """The cached customer named by id or customer number (userIdent), or None."""
    text = (text or "").strip()
    if not text:
        return None
    if text.isdigit():
        found = db.session.get(Customer, int(text))
        if found is not None:
            return found
    return db.session.scalar(select(Customer).where(Customer.user_ident == text))


def imports_query():
    return select(BankImport).order_by(BankImport.id.desc())


def reconciliations_query():
    return select(BulkReconciliation, BankLine).join(BankLine, BankLine.id == BulkReconciliation.line_id).order_by(
        BulkReconciliation.id.desc())


def allocations_query(recon_id):
    return select(BulkAllocation).where(BulkAllocation.reconciliation_id == recon_id).order_by(BulkAllocation.position)


def allocation_counts(recon_id):
    rows = db.session.execute(select(BulkAllocation.status, db.func.count()).where(
        BulkAllocation.reconciliation_id == recon_id).group_by(BulkAllocation.status)).all()
    return dict(rows)
