"""Bulk reconciliation: one deposit paid out over many open invoices, all or nothing.

An allocation is checked before anything is sent (the shares add up to the deposit; every invoice is
open, owes exactly its share, is allocated once), against the cache when it is built and against UISP
itself when the run starts. The run posts one payment per invoice, batch by batch (`n of total
invoices` as its progress), each batch's payments side by side. Every state change of an allocation is
committed before the next call, so whatever stops the run — a refusal, a lost UISP, Terminate, a killed
worker — the payments it made are known: they are deleted again (DELETE /payments/{id}), a payment whose
answer was lost is found by its providerPaymentId first, and the reconciliation ends rolled back with
the reason. A run that starts on a reconciliation a dead run left half-posted rolls that back first.
"""
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import bindparam, func, select, update

from ... import settings
from ...auth import activity
from ...db import utcnow
from ...extensions import db
from ...runs.context import JobCancelled
from ...runs.registry import JobError
from ..base.push_models import SyncRecord
from ..uisp.client import UispError
from ..uisp.models import Invoice
from . import uisp_payments
from .matching import OPEN
from .models import BankLine, BulkAllocation, BulkReconciliation

allocations = BulkAllocation.__table__


class AllocationError(ValueError):
    """The allocation is not acceptable as it stands; `problems` lists every reason (shown on the form)."""

    def __init__(self, problems):
        super().__init__("; ".join(problems[:10]) + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""))
        self.problems = problems


# --- building and checking an allocation (in the request, against the UISP cache) -----------------------

def open_invoices_of(client_ids):
    """The cached open invoices of these customers, oldest first: [(invoice id, number, client id, cents)]."""
    return db.session.execute(select(Invoice.id, Invoice.number, Invoice.client_id, Invoice.remaining_cents).where(
        Invoice.client_id.in_(list(client_ids)), Invoice.status.in_([int(s) for s in OPEN]),
        Invoice.remaining_cents > 0).order_by(Invoice.client_id, Invoice.created_date, Invoice.id)).all()


def invoices_by_number(numbers):
    """{number: (invoice id, number, client id, remaining cents, status)} of the cached invoices."""
    found = {}
    numbers = list(numbers)
    for start in range(0, len(numbers), 1000):
        for row in db.session.execute(select(Invoice.id, Invoice.number, Invoice.client_id, Invoice.remaining_cents,
                                             Invoice.status).where(Invoice.number.in_(numbers[start:start + 1000]))):
            found[row.number] = row
    return found


def check_allocation(line, shares):
    """Problems with allocating `line` over shares [(invoice id, number, client id, cents)], as a list."""
    problems = []
    if line.amount <= 0:
        problems.append("only a credit (money received) can be reconciled against invoices")
    if line.match_status == "bulk":
        problems.append("this deposit is already reconciled in bulk")
    posted = db.session.scalar(select(SyncRecord.status).where(
        SyncRecord.connector == "banking", SyncRecord.source_key == line.identity))
    if posted in ("synced", "pending"):
        problems.append("this deposit is already posted to UISP as one payment (see its line)")
    if not shares:
        problems.append("no invoices are allocated")
    deposit = int(round(line.amount * 100))
    total = sum(cents for *_, cents in shares)
    if shares and total != deposit:
        problems.append(f"the shares add up to {total / 100:,.2f}, the deposit is {deposit / 100:,.2f}")
    seen = set()
    cached = _cached_open([invoice_id for invoice_id, *_ in shares])
    for invoice_id, number, _client, cents in shares:
        if invoice_id in seen:
            problems.append(f"invoice {number} is allocated twice")
        seen.add(invoice_id)
        owed = cached.get(invoice_id)
        if owed is None:
            problems.append(f"invoice {number} is not open")
        elif owed != cents:
            problems.append(f"invoice {number} owes {owed / 100:,.2f}, not {cents / 100:,.2f}")
        if cents <= 0:
            problems.append(f"invoice {number}: a share must be more than 0")
    return problems


def _cached_open(invoice_ids):
    owed = {}
    for start in range(0, len(invoice_ids), 1000):
        owed.update(db.session.execute(select(Invoice.id, Invoice.remaining_cents).where(
            Invoice.id.in_(invoice_ids[start:start + 1000]), Invoice.status.in_([int(s) for s in OPEN]))).all())
    return {k: int(v) for k, v in owed.items()}


def create(line, shares, username):
    """A draft reconciliation of `line` over these shares (checked first; AllocationError otherwise)."""
    problems = check_allocation(line, shares)
    existing = db.session.scalar(select(BulkReconciliation).where(BulkReconciliation.line_id == line.id))
    if existing is not None and existing.status != "rolled_back":
        problems.append(f"this deposit already has reconciliation #{existing.id} ({existing.status})")
    if problems:
        raise AllocationError(problems)
    if existing is not None:  # a rolled-back one is replaced by the new allocation
        db.session.execute(allocations.delete().where(allocations.c.reconciliation_id == existing.id))
        db.session.delete(existing)
        db.session.flush()
    recon = BulkReconciliation(line_id=line.id, amount=line.amount, status="draft", invoices_total=len(shares),
                               created_by=username or "")
    db.session.add(recon)
    db.session.flush()
    db.session.execute(allocations.insert(), [
        {"reconciliation_id": recon.id, "position": n, "invoice_id": invoice_id, "invoice_number": str(number),
         "client_id": client, "cents": cents, "provider_payment_id": f"syncdeck-bulk-{recon.id}-{invoice_id}",
         "status": "planned", "payment_id": None, "message": ""}
        for n, (invoice_id, number, client, cents) in enumerate(shares, 1)])
    line.match_status, line.match_rule, line.match_note = "bulk", "bulk", f"bulk reconciliation #{recon.id}"
    line.updated_at = utcnow()
    activity.record("bulk_reconciliation_created", target=f"bank_reconciliation/{recon.id}",
                    detail=f"deposit line {line.id} of {line.amount:,.2f} over {len(shares)} invoices",
                    username=username)
    return recon


# --- the run ---------------------------------------------------------------------------------------------

def run(ctx, recon_id):
    """Post the reconciliation's payments, or roll back every one it made; the reason ends the run."""
    recon = _load(recon_id)
    if recon.status == "succeeded":
        raise JobError(f"reconciliation #{recon.id} already succeeded; nothing to do")
    uisp = uisp_payments.client()
    _undo_leftovers(ctx, recon, uisp)
    _set(recon, status="posting", reason="", run_id=ctx.run_id)
    try:
        _verify_live(ctx, recon, uisp)
        _post_all(ctx, recon, uisp)
    except BaseException as exc:
        db.session.rollback()
        deleted, left = _roll_back(ctx, recon, uisp)
        why = _reason(exc)
        state = "rollback_incomplete" if left else "rolled_back"
        tail = (f"; {left} payment(s) could not be deleted yet: Roll back tries again" if left
                else f"; rolled back: {deleted} payment(s) deleted, nothing left at UISP")
        _set(recon, status=state, reason=f"{why}{tail}")
        ctx.log.error("reconciliation #%s: %s%s", recon.id, why, tail)
        if isinstance(exc, JobCancelled):
            raise
        raise JobError(f"{why}{tail}") from None
    _set(recon, status="succeeded", posted_count=recon.invoices_total, reason=f"{recon.invoices_total} invoices paid")
    ctx.summary = f"Reconciled {recon.invoices_total:,} invoices ({recon.amount:,.2f})"


def roll_back(ctx, recon_id):
    """Delete every payment the reconciliation still holds at UISP (after a dead run, or a failed rollback)."""
    recon = _load(recon_id)
    if recon.status == "succeeded":
        raise JobError(f"reconciliation #{recon.id} succeeded; its payments stay (delete them in UISP if wrong)")
    deleted, left = _roll_back(ctx, recon, uisp_payments.client())
    if left:
        _set(recon, status="rollback_incomplete", reason=f"{left} payment(s) could not be deleted yet")
        raise JobError(f"{left} payment(s) could not be deleted yet; try again")
    _set(recon, status="rolled_back", reason=f"rolled back by hand: {deleted} payment(s) deleted")
    ctx.summary = f"Rolled back {deleted} payment(s)"


def _load(recon_id):
    recon = db.session.get(BulkReconciliation, int(recon_id))
    if recon is None:
        raise JobError(f"No bulk reconciliation #{recon_id}")
    return recon


def _set(recon, **values):
    db.session.execute(update(BulkReconciliation).where(BulkReconciliation.id == recon.id).values(
        updated_at=utcnow(), **values))
    db.session.commit()
    db.session.refresh(recon)


def _reason(exc):
    if isinstance(exc, JobCancelled):
        return f"terminated: {exc}" if str(exc) else "terminated"
    return str(exc) or type(exc).__name__


def _undo_leftovers(ctx, recon, uisp):
    held = db.session.scalar(select(func.count()).where(allocations.c.reconciliation_id == recon.id,
                                                        allocations.c.status.in_(("sending", "posted"))))
    if held:
        ctx.log.warning("reconciliation #%s holds %s payment(s) from an earlier run: rolling them back first",
                        recon.id, held)
        _, left = _roll_back(ctx, recon, uisp)
        if left:
            _set(recon, status="rollback_incomplete", reason=f"{left} earlier payment(s) could not be deleted")
            raise JobError(f"{left} payment(s) of an earlier run could not be deleted; nothing new was posted")
    db.session.execute(update(allocations).where(allocations.c.reconciliation_id == recon.id).values(
        status="planned", payment_id=None, message=""))
    db.session.commit()


def _shares(recon, statuses=("planned",)):
    return db.session.execute(select(allocations).where(allocations.c.reconciliation_id == recon.id,
                                                        allocations.c.status.in_(statuses))
                              .order_by(allocations.c.position)).mappings().all()


def _verify_live(ctx, recon, uisp):
    """Every invoice must still be open at UISP and owe its share, or nothing is posted."""
    shares = _shares(recon)
    db.session.rollback()
    ctx.progress(0, len(shares), f"checking {len(shares):,} invoices at UISP")
    workers = uisp_payments.in_flight()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk-check") as pool:
        invoices = list(pool.map(lambda share: uisp.get(f"/invoices/{share['invoice_id']}"), shares))
    problems = []
    for share, invoice in zip(shares, invoices):
        owed = int(round(float(invoice.get("amountToPay") or 0) * 100))
        if invoice.get("status") not in [int(s) for s in OPEN] or owed != share["cents"]:
            problems.append(f"invoice {share['invoice_number']} now owes {owed / 100:,.2f} at UISP "
                            f"(allocated {share['cents'] / 100:,.2f})")
    if problems:
        raise JobError(f"the allocation no longer holds: {'; '.join(problems[:5])}"
                       + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))


def _post_all(ctx, recon, uisp):
    shares = _shares(recon)
    line = db.session.get(BankLine, recon.line_id)
    day, total, recon_id = line.booking_date, len(shares), recon.id
    db.session.rollback()
    batch_size = int(settings.get("banking_bulk_batch_size"))
    workers = uisp_payments.in_flight()
    done = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk-post") as pool:
        for start in range(0, total, batch_size):
            ctx.check_cancelled()
            batch = shares[start:start + batch_size]
            _mark([s["id"] for s in batch], "sending")
            outcomes = list(pool.map(lambda share: _post_one(uisp, share, day, recon_id), batch))
            _record_posted([o for o in outcomes if not isinstance(o, BaseException)])
            failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
            if failed is not None:
                raise failed
            done += len(batch)
            ctx.progress(done, total, f"{done:,} of {total:,} invoices")
            ctx.count(inserted=len(batch))


def _post_one(uisp, share, day, recon_id):
    try:
        payment_id = uisp_payments.create(uisp, client_id=share["client_id"], cents=share["cents"], day=day,
                                          provider_payment_id=share["provider_payment_id"],
                                          invoice_ids=[share["invoice_id"]],
                                          note=f"Bulk reconciliation #{recon_id}, invoice {share['invoice_number']}")
        return {"b_id": share["id"], "b_payment": payment_id}
    except uisp_payments.PaymentRefused as exc:
        return JobError(f"UISP refused the payment of invoice {share['invoice_number']} "
                        f"(#{share['position']} of the allocation): {exc}")
    except Exception as exc:
        return JobError(f"invoice {share['invoice_number']} (#{share['position']}): {exc}")


def _mark(ids, status):
    db.session.execute(update(allocations).where(allocations.c.id.in_(ids)).values(status=status))
    db.session.commit()


def _record_posted(rows):
    if rows:
        db.session.execute(update(allocations).where(allocations.c.id == bindparam("b_id")).values(
            status="posted", payment_id=bindparam("b_payment")), rows)
    db.session.commit()


def _roll_back(ctx, recon, uisp):
    """Delete what the reconciliation holds at UISP; returns (deleted, left)."""
    held = _shares(recon, ("sending", "posted"))
    db.session.rollback()
    if not held:
        return 0, 0
    line = db.session.get(BankLine, recon.line_id)
    day = line.booking_date
    db.session.rollback()
    workers = uisp_payments.in_flight()
    lock, done = threading.Lock(), [0]

    def undo(share):
        try:
            payment_id = share["payment_id"] or uisp_payments.find(uisp, share["client_id"], day,
                                                                   share["provider_payment_id"])
            if payment_id is not None:
                uisp_payments.delete(uisp, payment_id)
            # A share whose request never reached UISP has nothing to delete: it is not counted as deleted.
            outcome = {"b_id": share["id"], "b_status": "deleted", "b_message": "" if payment_id else "never created",
                       "existed": payment_id is not None}
        except (UispError, OSError) as exc:
            outcome = {"b_id": share["id"], "b_status": share["status"], "b_message": f"delete failed: {exc}"[:500],
                       "existed": False}
        with lock:
            done[0] += 1
            ctx.progress(done[0], len(held), f"rolling back: {done[0]:,} of {len(held):,} payments", check=False)
        return outcome

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk-undo") as pool:
        outcomes = list(pool.map(undo, held))
    db.session.execute(update(allocations).where(allocations.c.id == bindparam("b_id")).values(
        status=bindparam("b_status"), message=bindparam("b_message")), outcomes)
    db.session.commit()
    deleted = sum(1 for o in outcomes if o.get("existed"))
    left = sum(1 for o in outcomes if o["b_status"] != "deleted")
    db.session.execute(update(BulkReconciliation).where(BulkReconciliation.id == recon.id).values(
        deleted_count=BulkReconciliation.deleted_count + deleted))
    db.session.commit()
    return deleted, left
