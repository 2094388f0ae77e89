"""The receipt ledger: which run owns posting which EPOS transaction, and what became of it.

Ownership is taken by conditional UPDATEs, so two runs of one company (the all-companies run and a
single-company run, or two hosts) never both post a transaction: a row is posted only by the run
whose id it carries. A pending row of a run that has ended (crashed, killed, timed out) is taken
over and looked up in QBO by its DocNumber before it could be posted again.
"""
from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, or_, select, update

from ...db import insert_ignore, utcnow
from ...extensions import db
from ...runs.models import ACTIVE, Run
from .models import EposQboReceipt

receipts = EposQboReceipt.__table__


@dataclass
class Claim:
    """This run's share of a day: rows to post, rows already synced, rows another live run is posting."""

    mine: dict = field(default_factory=dict)       # epos_id -> row id
    synced: dict = field(default_factory=dict)     # epos_id -> qbo id
    elsewhere: dict = field(default_factory=dict)  # epos_id -> run id


def claim(company, trading_date, wanted, run_id):
    """Write every wanted receipt (epos_id -> Receipt) pending for this run unless known, then take over
    the failed ones and those of ended runs. Committed: the claim is visible to every other run."""
    now = utcnow()
    rows = [{"company": company, "epos_id": r.epos_id, "trading_date": trading_date, "kind": r.kind,
             "doc_number": r.doc_number, "amount": r.amount, "status": "pending", "qbo_id": "", "request_id": "",
             "run_id": run_id, "message": "", "attempts": 0, "created_at": now, "updated_at": now}
            for r in wanted.values()]
    for start in range(0, len(rows), 500):
        db.session.execute(insert_ignore(receipts), rows[start:start + 500])
    known = _rows(company, list(wanted))
    ended = _ended_runs({row.run_id for row in known if row.status == "pending" and row.run_id != run_id})
    takeable = [row for row in known if row.status == "failed"
                or (row.status == "pending" and row.run_id != run_id and (row.run_id is None or row.run_id in ended))]
    taken = _take_over(takeable, run_id, now)
    db.session.commit()
    result = Claim()
    for row in known:
        if row.status == "synced":
            result.synced[row.epos_id] = row.qbo_id
        elif row.run_id == run_id or row.id in taken:
            result.mine[row.epos_id] = row.id
        else:
            result.elsewhere[row.epos_id] = row.run_id
    return result


def _rows(company, epos_ids):
    found = []
    for start in range(0, len(epos_ids), 500):
        found += db.session.execute(select(receipts.c.id, receipts.c.epos_id, receipts.c.status, receipts.c.run_id,
                                           receipts.c.qbo_id).where(
            receipts.c.company == company, receipts.c.epos_id.in_(epos_ids[start:start + 500]))).all()
    return found


def _ended_runs(run_ids):
    """Of these run ids, those that are no longer queued or running (or never existed)."""
    run_ids = {r for r in run_ids if r is not None}
    if not run_ids:
        return set()
    alive = set(db.session.scalars(select(Run.id).where(Run.id.in_(run_ids), Run.status.in_(ACTIVE))))
    return run_ids - alive


def _take_over(rows, run_id, now):
    """Take each row only if it still carries the owner we saw: of two runs, one wins each row."""
    taken = set()
    for row in rows:
        owner = receipts.c.run_id.is_(None) if row.run_id is None else receipts.c.run_id == row.run_id
        changed = db.session.execute(update(receipts).where(
            receipts.c.id == row.id, receipts.c.status == row.status, owner).values(
            run_id=run_id, status="pending", updated_at=now)).rowcount
        if changed:
            taken.add(row.id)
    return taken


def record(outcomes):
    """Write outcomes [{id, status, qbo_id, message, request_id}] of this run's rows, in one transaction."""
    if not outcomes:
        return
    now = utcnow()
    db.session.execute(update(receipts).where(receipts.c.id == bindparam("b_id")).values(
        status=bindparam("b_status"), qbo_id=bindparam("b_qbo"), message=bindparam("b_message"),
        request_id=bindparam("b_request"), attempts=receipts.c.attempts + 1, updated_at=now),
        [{"b_id": o["id"], "b_status": o["status"], "b_qbo": o.get("qbo_id", ""),
          "b_message": (o.get("message") or "")[:4000], "b_request": o.get("request_id", "")} for o in outcomes])
    db.session.commit()


def day_rows(company, trading_date):
    """The ledger of one company's trading date, for its detail page."""
    return db.session.scalars(select(EposQboReceipt).where(
        and_(EposQboReceipt.company == company, EposQboReceipt.trading_date == trading_date))
        .order_by(EposQboReceipt.id)).all()


def problems(company, limit=50):
    """Receipts that failed or were left pending, newest first."""
    return db.session.scalars(select(EposQboReceipt).where(
        EposQboReceipt.company == company, or_(EposQboReceipt.status == "failed", EposQboReceipt.status == "pending"))
        .order_by(EposQboReceipt.id.desc()).limit(limit)).all()
