"""The push shape: send source records to a target, keeping a per-record ledger in our database.

Which records a run sends:
- a record never seen, or whose content (version) changed since it was last sent: sent;
- a synced record whose content is unchanged: not sent;
- an ignored record: never sent;
- a failed or skipped record whose content is unchanged: not sent again until someone presses
  Retry (status back to pending); a changed one is sent again by itself;
- a pending record: sent, unless a crash left it pending with a client key and the stream's
  lookup finds it already at the target (created, but not recorded): then it is recorded synced.

Each batch writes its records `pending` with a client key before any call, then records every
outcome and the stream's cursor in one transaction: never a commit per record, and the cursor
never passes a record whose outcome is not written.
"""
import hashlib
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Callable, Optional

from flask import current_app
from sqlalchemy import bindparam, func, insert, select, update

from ...auth import activity
from ...db import utcnow
from ...extensions import db
from .push_models import STATUSES, SyncCursor, SyncRecord

records = SyncRecord.__table__
cursors = SyncCursor.__table__
RETRYABLE = ("failed", "skipped")
IGNORABLE = ("pending", "failed", "skipped")


class RecordRejected(Exception):
    """The target refused this record alone (a validation error): it fails, the run goes on."""


class RecordSkipped(Exception):
    """This record cannot be sent yet (something it needs is not synced): skipped with the reason."""


def content_version(record):
    """A record's version: the SHA-256 of its canonical JSON."""
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class PushStream:
    """A stream declared by its facts: whose, its name, its key and version, its cursor, its lookup.

    `lookup(client_key, record)` returns the target id of a record already at the target, or None.
    """

    connector: str
    name: str
    key: Callable
    version: Callable = content_version
    cursor: Optional[Callable] = None
    lookup: Optional[Callable] = None


@dataclass
class Entry:
    """What send() is told about a record: its ledger row as it stands before this attempt."""

    id: int
    key: str
    version: str
    target_id: str
    client_key: str
    attempts: int


def cursor_value(stream):
    """Where the stream's last committed batch got to ('' before the first)."""
    return db.session.scalar(select(cursors.c.value).where(
        cursors.c.connector == stream.connector, cursors.c.stream == stream.name)) or ""


def push(ctx, stream, source, send, batch_size=500, workers=1, total=None):
    """Send what needs sending of `source` (an iterable of records) with send(record, entry) -> target id.

    The job declares counters=("pushed", "skipped"). Returns {status: n} of this run's outcomes.
    """
    outcome_counts, done = dict.fromkeys(STATUSES, 0), 0
    iterator = iter(source)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"push-{stream.name}") as pool:
        while batch := list(islice(iterator, batch_size)):
            ctx.check_cancelled()
            for status, n in _push_batch(ctx, stream, batch, send, pool).items():
                outcome_counts[status] += n
            done += len(batch)
            ctx.progress(done, total, f"{stream.name}: {done:,} of {total:,}" if total else f"{stream.name}: {done:,}")
    return outcome_counts


def _push_batch(ctx, stream, batch, send, pool):
    by_key = {str(stream.key(record)): record for record in batch}
    ctx.count(fetched=len(batch))
    ledger = _ledger_rows(stream, list(by_key))
    wanted = {key: rec for key, rec in by_key.items() if _wants_sending(ledger.get(key), stream.version(rec))}
    recovered, found = _recover(stream, wanted, ledger)
    entries = _mark_pending(stream, wanted, ledger, found)
    app = current_app._get_current_object()
    outcomes = list(pool.map(lambda key: _attempt(app, send, wanted[key], entries[key]), wanted))
    _record(stream, recovered + outcomes, _cursor_of(stream, batch))
    crashed = next((o["error"] for o in outcomes if o.get("error") is not None), None)
    if crashed is not None:
        raise crashed
    return _count(ctx, recovered + outcomes)


def _ledger_rows(stream, keys):
    rows = db.session.execute(select(records).where(
        records.c.connector == stream.connector, records.c.stream == stream.name,
        records.c.source_key.in_(keys))).mappings().all()
    db.session.rollback()  # end the read: on SQLite an open transaction holds the write lock
    return {row["source_key"]: dict(row) for row in rows}


def _wants_sending(row, version):
    if row is None:
        return True
    if row["status"] == "ignored":
        return False
    if row["status"] == "pending":
        return True
    return row["version"] != version or row["status"] not in ("synced",) + RETRYABLE


def _recover(stream, wanted, ledger):
    """Records a run left pending (a crash, a timeout) are looked up at the target before any call.

    Found with the content that was being sent: recorded synced, not sent. Found, but the source
    changed since: sent as an update of what is there. Returns (outcomes, {key: target id}).
    """
    outcomes, found = [], {}
    for key in list(wanted):
        row = ledger.get(key)
        if not (stream.lookup and row and row["status"] == "pending" and row["client_key"] and not row["target_id"]):
            continue
        target_id = stream.lookup(row["client_key"], wanted[key])
        if not target_id:
            continue
        if row["version"] == stream.version(wanted[key]):
            outcomes.append({"id": row["id"], "status": "synced", "target_id": str(target_id), "created": True,
                             "message": "found at the target after an unknown outcome; not sent again"})
            del wanted[key]
        else:
            found[key] = str(target_id)
    return outcomes, found


def _mark_pending(stream, wanted, ledger, found):
    """Write every record about to be sent as pending, with the version being sent and its client key,
    before any call (committed), so a crash mid-call leaves what a later run needs to look it up."""
    now = utcnow()
    new = [{"connector": stream.connector, "stream": stream.name, "source_key": key, "status": "pending",
            "version": stream.version(rec), "target_id": "", "message": "", "attempts": 0,
            "client_key": uuid.uuid4().hex, "first_seen_at": now, "updated_at": now}
           for key, rec in wanted.items() if key not in ledger]
    if new:
        db.session.execute(insert(records), new)
    known = [{"b_id": ledger[key]["id"], "b_key": ledger[key]["client_key"] or uuid.uuid4().hex,
              "b_version": stream.version(rec), "b_target": found.get(key, ledger[key]["target_id"])}
             for key, rec in wanted.items() if key in ledger]
    if known:
        db.session.execute(update(records).where(records.c.id == bindparam("b_id")).values(
            status="pending", client_key=bindparam("b_key"), version=bindparam("b_version"),
            target_id=bindparam("b_target"), updated_at=now), known)
    db.session.commit()
    rows = _ledger_rows(stream, list(wanted))
    return {key: Entry(rows[key]["id"], key, stream.version(wanted[key]), rows[key]["target_id"],
                       rows[key]["client_key"], rows[key]["attempts"]) for key in wanted}


def _attempt(app, send, record, entry):
    """One call to the target (on a pool thread, in the app's context), turned into an outcome row;
    an unexpected error is kept to be raised once the batch's other outcomes are recorded."""
    base = {"id": entry.id, "attempted": True, "created": not entry.target_id}
    try:
        with app.app_context():
            target_id = send(record, entry)
    except RecordRejected as exc:
        return {**base, "status": "failed", "target_id": entry.target_id, "message": str(exc)}
    except RecordSkipped as exc:
        return {**base, "status": "skipped", "target_id": entry.target_id, "message": str(exc)}
    except Exception as exc:  # unknown outcome: the row stays pending, looked up before any resend
        return {**base, "status": "pending", "target_id": entry.target_id, "message": f"{type(exc).__name__}: {exc}"[:2000],
                "error": exc}
    return {**base, "status": "synced", "target_id": str(target_id or entry.target_id), "message": ""}


def _record(stream, outcomes, cursor):
    """Every outcome of the batch and the stream's cursor, in one transaction."""
    now = utcnow()
    if outcomes:
        rows = [{"b_id": o["id"], "b_status": o["status"], "b_target": o["target_id"], "b_message": o["message"][:4000],
                 "b_tried": 1 if o.get("attempted") else 0,
                 "b_synced": now if o["status"] == "synced" else None} for o in outcomes]
        db.session.execute(update(records).where(records.c.id == bindparam("b_id")).values(
            status=bindparam("b_status"), target_id=bindparam("b_target"), message=bindparam("b_message"),
            attempts=records.c.attempts + bindparam("b_tried"),
            last_attempt_at=now, synced_at=_coalesce_synced(), updated_at=now), rows)
    if cursor is not None and not any(o.get("error") is not None for o in outcomes):
        _save_cursor(stream, cursor, now)
    db.session.commit()


def _coalesce_synced():
    return func.coalesce(bindparam("b_synced"), records.c.synced_at)


def _save_cursor(stream, value, now):
    where = (cursors.c.connector == stream.connector) & (cursors.c.stream == stream.name)
    if db.session.execute(update(cursors).where(where).values(value=value, updated_at=now)).rowcount == 0:
        db.session.execute(insert(cursors).values(connector=stream.connector, stream=stream.name, value=value,
                                                  updated_at=now))


def _cursor_of(stream, batch):
    if stream.cursor is None:
        return None
    return max(str(stream.cursor(record)) for record in batch)


def _count(ctx, outcomes):
    counts = dict.fromkeys(STATUSES, 0)
    for outcome in outcomes:
        counts[outcome["status"]] += 1
    synced = [o for o in outcomes if o["status"] == "synced" and o.get("attempted")]
    ctx.count(pushed=len(synced), skipped=counts["skipped"], failed=counts["failed"],
              inserted=sum(1 for o in synced if o["created"]), updated=sum(1 for o in synced if not o["created"]))
    return counts


# --- what operators do from the Records page ---------------------------------------------

def matching(ids=None, connector=None, stream=None, status=None, q=None):
    """A select of the ledger rows chosen by id, or by the Records page's filters."""
    query = select(SyncRecord)
    if ids is not None:
        return query.where(SyncRecord.id.in_(list(ids)))
    for column, value in ((SyncRecord.connector, connector), (SyncRecord.stream, stream), (SyncRecord.status, status)):
        if value:
            query = query.where(column == value)
    if q:
        query = query.where(SyncRecord.source_key.ilike(f"%{q}%") | SyncRecord.message.ilike(f"%{q}%"))
    return query


def retry(ids=None, **filters):
    """Failed and skipped records back to pending, so the next run sends them; audited. Returns how many."""
    return _set_status("pending", RETRYABLE, "retry", ids, filters)


def ignore(ids=None, **filters):
    """Records never to be sent (until retried); audited. Returns how many."""
    return _set_status("ignored", IGNORABLE, "ignore", ids, filters)


def _set_status(status, allowed, action, ids, filters):
    chosen = matching(ids, **filters).where(SyncRecord.status.in_(allowed)).with_only_columns(SyncRecord.id)
    changed = db.session.execute(update(records).where(records.c.id.in_(chosen.scalar_subquery()))
                                 .values(status=status, updated_at=utcnow()).execution_options(
                                     synchronize_session=False)).rowcount
    what = f"ids {sorted(ids)[:20]}" if ids is not None else f"filter {({k: v for k, v in filters.items() if v})}"
    activity.record(action, target="records", detail=f"{changed} record(s) → {status}: {what}")
    return changed


def counts(connector=None, stream=None):
    """{status: n} over the ledger (of one connector, of one stream)."""
    query = select(SyncRecord.status, func.count()).group_by(SyncRecord.status)
    if connector:
        query = query.where(SyncRecord.connector == connector)
    if stream:
        query = query.where(SyncRecord.stream == stream)
    found = dict(db.session.execute(query).all())
    return {status: found.get(status, 0) for status in STATUSES}
