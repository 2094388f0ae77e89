"""The push shape: send source records to a target, keeping a per-record ledger in our database.

Which records a run sends:
- a record never seen, or whose content (version) changed since it was last sent: sent;
- a synced record whose content is unchanged: not sent;
- an ignored record: never sent, changed or not, until someone presses Retry;
- a failed or skipped record whose content is unchanged: not sent again until someone presses
  Retry (status back to pending); a changed one is sent again by itself;
- a pending record: sent, unless a crash left it pending with a client key and the stream's
  lookup finds it already at the target (created, but not recorded): then it is recorded synced.

Each batch writes its records `pending` with a client key before any call, then records every
outcome and the stream's cursor in one transaction: never a commit per record, and the cursor
never passes a record whose outcome is not written. The cursor is inclusive: a job reads its
source from `cursor_value(stream)` with `>=`; the boundary record comes again, unchanged, unsent.
A record retried behind the cursor is not in the next run's source: a stream that declares
`fetch(keys)` has those re-read by key after the source is done.
"""
import hashlib
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Callable, Optional

from flask import current_app
from sqlalchemy import bindparam, case, func, insert, select, update

from ...auth import activity
from ...db import utcnow
from ...extensions import db
from .push_models import STATUSES, SyncCursor, SyncRecord

records = SyncRecord.__table__
cursors = SyncCursor.__table__
RETRYABLE = ("failed", "skipped", "ignored")
IGNORABLE = ("pending", "failed", "skipped")
GONE = "no longer in the source; retried, but not found there"


class RecordRejected(Exception):
    """The target refused this record alone (a validation error): it fails, the run goes on."""


class RecordSkipped(Exception):
    """This record cannot be sent yet (something it needs is not synced): skipped with the reason."""


def content_version(record):
    """Return a record's version: the SHA-256 of its canonical JSON."""
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class PushStream:
    """A stream declared by its facts: whose, its name, its key and version, its cursor, its hooks.

    `lookup(client_key, record)` returns the target id of a record already at the target, or None.
    `fetch(keys)` yields the source records with those keys (for retries behind the cursor).
    """

    connector: str
    name: str
    key: Callable
    version: Callable = content_version
    cursor: Optional[Callable] = None
    lookup: Optional[Callable] = None
    fetch: Optional[Callable] = None


@dataclass
class Entry:
    """What send() is told about a record: its ledger row for this attempt (target_id '' = create)."""

    id: int
    key: str
    version: str
    target_id: str
    client_key: str
    attempts: int


def cursor_value(stream):
    """Return where the stream's last committed batch got to ('' before the first)."""
    return db.session.scalar(select(cursors.c.value).where(
        cursors.c.connector == stream.connector, cursors.c.stream == stream.name)) or ""


def push(ctx, stream, source, send, batch_size=500, workers=1, total=None):
    """Send what needs sending of `source` (an iterable of records) with send(record, entry) -> target id.

    The job declares counters=("pushed", "skipped"). Returns {status: n} of this run's outcomes.
    """
    outcome_counts, done = dict.fromkeys(STATUSES, 0), 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"push-{stream.name}") as pool:
        for batch, cursor in _batches(stream, source, batch_size):
            ctx.check_cancelled()
            for status, n in _push_batch(ctx, stream, batch, send, pool, cursor).items():
                outcome_counts[status] += n
            done += len(batch)
            of_total = f" of {total:,}" if total else ""
            ctx.progress(done, total, f"{stream.name}: {done:,}{of_total}")
    return outcome_counts


def _batches(stream, source, size):
    """The source's batches, each with the cursor it justifies; then retries behind the cursor (none)."""
    iterator = iter(source)
    while batch := list(islice(iterator, size)):
        yield batch, _cursor_of(stream, batch)
    if stream.fetch is None:
        return
    after = 0
    while pending := _pending_after(stream, after, size):
        after = max(pending.values())
        batch = list(stream.fetch(list(pending)))
        _mark_gone(set(pending) - {str(stream.key(record)) for record in batch}, pending)
        if batch:
            yield batch, None


def _pending_after(stream, after, size):
    """{source key: id} of the next pending rows (those this run's source did not bring)."""
    rows = db.session.execute(select(records.c.source_key, records.c.id).where(
        records.c.connector == stream.connector, records.c.stream == stream.name,
        records.c.status == "pending", records.c.id > after).order_by(records.c.id).limit(size)).all()
    db.session.rollback()
    return dict(rows)


def _mark_gone(keys, ids):
    if keys:
        db.session.execute(update(records).where(records.c.id.in_([ids[k] for k in keys])).values(
            status="skipped", message=GONE, updated_at=utcnow()))
        db.session.commit()


def _push_batch(ctx, stream, batch, send, pool, cursor):
    by_key = {str(stream.key(record)): record for record in batch}
    ctx.count(fetched=len(batch))
    versions = {key: stream.version(record) for key, record in by_key.items()}
    ledger = _ledger_rows(stream, list(by_key))
    wanted = {key: rec for key, rec in by_key.items() if _wants_sending(ledger.get(key), versions[key])}
    recovered, found = _recover(stream, wanted, ledger, versions)
    entries = _mark_pending(stream, wanted, ledger, versions, found)
    app, stop = current_app._get_current_object(), threading.Event()
    attempts = pool.map(lambda key: _attempt(app, send, wanted[key], entries[key], stop), wanted)
    outcomes = [o for o in attempts if o is not None]
    crashed = next((o["error"] for o in outcomes if o.get("error") is not None), None)
    _record(stream, recovered + outcomes, None if crashed else cursor)
    if crashed is not None:
        raise crashed
    return _count(ctx, recovered + outcomes)


def _ledger_rows(stream, keys):
    """The batch's ledger rows, in one query: {source key: row}."""
    rows = db.session.execute(select(records).where(
        records.c.connector == stream.connector, records.c.stream == stream.name,
        records.c.source_key.in_(keys))).mappings().all()
    db.session.rollback()  # end the read: on SQLite an open transaction holds the write lock
    return {row["source_key"]: dict(row) for row in rows}


def _wants_sending(row, version):
    if row is None or row["status"] == "pending":
        return True
    if row["status"] == "ignored":
        return False
    return row["version"] != version


def _recover(stream, wanted, ledger, versions):
    """Records a run left pending with a client key (a crash, a lost answer) are looked up first.

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
        if row["version"] == versions[key]:
            outcomes.append({"id": row["id"], "status": "synced", "target_id": str(target_id), "created": True,
                             "message": "found at the target after an unknown outcome; not sent again"})
            del wanted[key]
        else:
            found[key] = str(target_id)
    return outcomes, found


def _mark_pending(stream, wanted, ledger, versions, found):
    """Write every record about to be sent as pending, with its version and client key, before any
    call (committed), so a crash mid-call leaves what a later run needs to look it up."""
    now, entries = utcnow(), {}
    new = [{"connector": stream.connector, "stream": stream.name, "source_key": key, "status": "pending",
            "version": versions[key], "target_id": "", "message": "", "attempts": 0,
            "client_key": uuid.uuid4().hex, "first_seen_at": now, "updated_at": now}
           for key in wanted if key not in ledger]
    if new:
        ids = dict(db.session.execute(insert(records).returning(records.c.source_key, records.c.id), new).all())
        entries = {row["source_key"]: Entry(ids[row["source_key"]], row["source_key"], row["version"], "",
                                            row["client_key"], 0) for row in new}
    known = [_known_entry(ledger[key], versions[key], found.get(key)) for key in wanted if key in ledger]
    if known:
        db.session.execute(update(records).where(records.c.id == bindparam("b_id")).values(
            status="pending", client_key=bindparam("b_key"), version=bindparam("b_version"),
            target_id=bindparam("b_target"), updated_at=now),
            [{"b_id": e.id, "b_key": e.client_key, "b_version": e.version, "b_target": e.target_id} for e in known])
    db.session.commit()
    return {**entries, **{e.key: e for e in known}}


def _known_entry(row, version, found_id):
    # A pending row's outcome is unknown: keep its key so the target can still dedupe the resend;
    # after a known outcome (synced, failed, skipped) the next attempt is a new request.
    unknown = row["status"] == "pending" and row["client_key"]
    return Entry(row["id"], row["source_key"], version, found_id or row["target_id"],
                 row["client_key"] if unknown else uuid.uuid4().hex, row["attempts"])


def _attempt(app, send, record, entry, stop):
    """One call to the target (on a pool thread, in the app's context), turned into an outcome row;
    an unexpected error is kept to be raised once the batch's other outcomes are recorded."""
    if stop.is_set():  # the batch already failed: leave the rest pending, unsent
        return None
    base = {"id": entry.id, "attempted": True, "created": not entry.target_id}
    try:
        with app.app_context():
            target_id = send(record, entry)
    except RecordRejected as exc:
        return {**base, "status": "failed", "target_id": entry.target_id, "message": str(exc)}
    except RecordSkipped as exc:
        return {**base, "status": "skipped", "target_id": entry.target_id, "message": str(exc)}
    except Exception as exc:  # unknown outcome: the row stays pending, looked up before any resend
        stop.set()
        return {**base, "status": "pending", "target_id": entry.target_id, "error": exc,
                "message": f"{type(exc).__name__}: {exc}"[:2000]}
    return {**base, "status": "synced", "target_id": str(target_id or entry.target_id), "message": ""}


def _record(stream, outcomes, cursor):
    """Write every outcome of the batch and the stream's cursor, in one transaction."""
    now = utcnow()
    if outcomes:
        rows = [{"b_id": o["id"], "b_status": o["status"], "b_target": o["target_id"], "b_message": o["message"][:4000],
                 "b_tried": 1 if o.get("attempted") else 0,
                 "b_synced": now if o["status"] == "synced" else None} for o in outcomes]
        db.session.execute(update(records).where(records.c.id == bindparam("b_id")).values(
            status=bindparam("b_status"), target_id=bindparam("b_target"), message=bindparam("b_message"),
            attempts=records.c.attempts + bindparam("b_tried"), last_attempt_at=now,
            synced_at=func.coalesce(bindparam("b_synced"), records.c.synced_at), updated_at=now), rows)
    if cursor is not None:
        _save_cursor(stream, cursor, now)
    db.session.commit()


def _save_cursor(stream, value, now):
    where = (cursors.c.connector == stream.connector) & (cursors.c.stream == stream.name)
    if db.session.execute(update(cursors).where(where).values(value=value, updated_at=now)).rowcount == 0:
        db.session.execute(insert(cursors).values(connector=stream.connector, stream=stream.name, value=value,
                                                  updated_at=now))


def _cursor_of(stream, batch):
    # The maximum of the values themselves (10 > 9), stored as text.
    return None if stream.cursor is None else str(max(stream.cursor(record) for record in batch))


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
    """Return a select of the ledger rows chosen by id, or by the Records page's filters."""
    query = select(SyncRecord)
    if ids is not None:
        return query.where(SyncRecord.id.in_(list(ids)))
    for column, value in ((SyncRecord.connector, connector), (SyncRecord.stream, stream), (SyncRecord.status, status)):
        if value:
            query = query.where(column == value)
    if q:
        query = query.where(SyncRecord.source_key.icontains(q, autoescape=True)
                            | SyncRecord.message.icontains(q, autoescape=True))
    return query


def retry(ids=None, **filters):
    """Set failed, skipped and ignored records back to pending, so the next run sends them; audited."""
    # After a known outcome the next attempt is a new request: forget the old client key. An
    # ignored row may have been ignored while its outcome was unknown: keep its key for the lookup.
    forget = case((records.c.status == "ignored", records.c.client_key), else_="")
    return _set_status("pending", RETRYABLE, "retry", ids, filters, client_key=forget)


def ignore(ids=None, **filters):
    """Set records never to be sent (until retried); audited. Returns how many."""
    return _set_status("ignored", IGNORABLE, "ignore", ids, filters)


def _set_status(status, allowed, action, ids, filters, **values):
    chosen = matching(ids, **filters).where(SyncRecord.status.in_(allowed)).with_only_columns(SyncRecord.id)
    changed = db.session.execute(update(records).where(records.c.id.in_(chosen.scalar_subquery()))
                                 .values(status=status, updated_at=utcnow(), **values).execution_options(
                                     synchronize_session=False)).rowcount
    what = f"ids {sorted(ids)[:20]}" if ids is not None else f"filter {({k: v for k, v in filters.items() if v})}"
    activity.record(action, target="records", detail=f"{changed} record(s) → {status}: {what}")
    return changed


def counts(connector=None, stream=None):
    """Return {status: n} over the ledger (of one connector, of one stream)."""
    query = select(SyncRecord.status, func.count()).group_by(SyncRecord.status)
    if connector:
        query = query.where(SyncRecord.connector == connector)
    if stream:
        query = query.where(SyncRecord.stream == stream)
    found = dict(db.session.execute(query).all())
    return {status: found.get(status, 0) for status in STATUSES}


def streams():
    """Return the (connector, stream) pairs the ledger holds, for the Records page's filters."""
    return db.session.execute(select(records.c.connector, records.c.stream).distinct()
                              .order_by(records.c.connector, records.c.stream)).all()
