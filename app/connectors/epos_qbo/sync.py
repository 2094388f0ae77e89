"""One company's trading date: EPOS sales → QBO receipts, posted exactly once, then reconciled.

1. Fetch the day's transactions from EPOS (the trading window in local time) and build receipts.
2. Claim them in the ledger (ledger.py): this run posts only rows it owns.
3. Ask QBO which of the day's DocNumbers it already has: those are recorded, not posted (a run that
   crashed after QBO accepted a receipt left it pending; this is where it is found).
4. Post the rest in batches of 30, several batches in flight; each batch's request id is derived from
   its content, so a retry of the same batch is answered from Intuit's memory, never created twice.
5. Reconcile: EPOS net takings vs the QBO receipts of that day → MATCH / MISMATCH and the difference.
"""
import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from decimal import Decimal

from flask import current_app

from ...extensions import db
from ..base.connections import connection_settings, get_connection, read_secrets
from . import ledger, tokens
from .epos import EposClient
from .models import EposQboReconciliation
from .qbo import DUPLICATE_DOC, MAX_BATCH, QboClient
from .receipts import REFUND, SALE, ReceiptError, epos_total, is_posted, local_time, receipt_for
from .trading import trading_date_of

CONNECTOR = "epos_qbo"
UNREADY = {"missing_tokens": "has no QuickBooks tokens", "missing_refresh_token": "has no QuickBooks refresh token",
           "refresh_expired": "has an expired QuickBooks refresh token"}


class CompanyNotReady(Exception):
    """The company cannot be synced until an operator fixes it (the message says how)."""


@dataclass
class DayResult:
    company: str
    trading_date: object
    epos_count: int = 0
    created: int = 0
    existing: int = 0
    failed: int = 0
    elsewhere: int = 0
    epos_total: Decimal = Decimal("0.00")
    qbo_total: Decimal = None
    status: str = ""
    failures: list = field(default_factory=list)

    @property
    def difference(self):
        return None if self.qbo_total is None else self.epos_total - self.qbo_total


@dataclass(frozen=True)
class Company:
    """What a run needs of a company's connection, read once: no transaction stays open meanwhile."""

    id: int
    key: str
    label: str
    display_name: str
    options: dict
    secrets: dict

    @classmethod
    def load(cls, key):
        conn = get_connection(CONNECTOR, key)
        company = cls(conn.id, conn.key, conn.label, conn.display_name, connection_settings(conn), read_secrets(conn))
        db.session.rollback()  # end the read: on SQLite a job's transaction holds the write lock
        return company


def sync_day(ctx, conn, day, cutoff, progress=None):
    """Sync and reconcile one Company for one TradingDay; returns its DayResult.

    `progress(done, total)` hears of receipts as their batches are recorded (a single-company run
    shows them; the all-companies run counts companies instead)."""
    started = time.monotonic()
    result = DayResult(conn.key, day.day)
    try:
        _sync(ctx, conn, day, cutoff, result, progress or (lambda done, total: None))
    except Exception as exc:
        db.session.rollback()
        _store(ctx, result, time.monotonic() - started, message=str(exc)[:2000])
        raise
    _store(ctx, result, time.monotonic() - started)
    return result


def _sync(ctx, conn, day, cutoff, result, progress):
    config, options, secrets = current_app.config, conn.options, conn.secrets
    _check_ready(conn, secrets)
    with EposClient(config["EPOS_BASE_URL"], secrets.get("epos_api_key"), secrets.get("epos_api_secret"),
                    timeout=config["EPOS_TIMEOUT"]) as epos:
        transactions = [t for t in epos.transactions(day.start, day.end)
                        if trading_date_of(local_time(t), cutoff) == day.day]
    ctx.log.info("%s %s: %d EPOS transactions", conn.key, day.day, len(transactions))
    wanted = _receipts(transactions, day.day, options)
    result.epos_count, result.epos_total = len(wanted), epos_total(transactions)
    ctx.count(fetched=len(transactions))
    keeper = tokens.TokenKeeper(conn.id, conn.label, config["QBO_TOKEN_URL"], config["QBO_CLIENT_ID"],
                                config["QBO_CLIENT_SECRET"], timeout=config["QBO_TIMEOUT"])
    with QboClient(config["QBO_API_URL"], options.get("qbo_realm_id"), keeper, timeout=config["QBO_TIMEOUT"],
                   retries=config["QBO_RETRIES"], concurrency=config["QBO_CONCURRENCY"]) as qbo:
        claimed = ledger.claim(conn.key, day.day, wanted, ctx.run_id)
        result.existing, result.elsewhere = len(claimed.synced), len(claimed.elsewhere)
        if claimed.elsewhere:
            ctx.log.warning("%s %s: %d receipt(s) are being posted by another run right now; left to it",
                            conn.key, day.day, len(claimed.elsewhere))
        in_qbo = _qbo_receipts(qbo, day.day, options["doc_prefix"])
        to_post = _record_found(claimed.mine, wanted, in_qbo, result)
        progress(len(wanted) - len(to_post), len(wanted))
        _post(ctx, qbo, conn.key, to_post, wanted, in_qbo, result, progress)
        _reconcile(qbo, day.day, options["doc_prefix"], result)


def _check_ready(conn, secrets):
    state, _ = tokens.health(secrets, expiring_days=0)
    if state in UNREADY:
        raise CompanyNotReady(f"{conn.display_name} {UNREADY[state]}: re-authorise it (Companies → Advanced settings)")


def _receipts(transactions, trading_date, options):
    wanted = {}
    for transaction in transactions:
        if not is_posted(transaction):
            continue
        receipt = receipt_for(transaction, trading_date, options)
        wanted[receipt.epos_id] = receipt
    return wanted


def _qbo_receipts(qbo, trading_date, prefix):
    """{(kind, DocNumber): entity} of our receipts QBO holds for that date."""
    found = {}
    for kind in (SALE, REFUND):
        for entity in qbo.query(f"select * from {kind} where TxnDate = '{trading_date.isoformat()}'"):
            if str(entity.get("DocNumber", "")).startswith(prefix):
                found[(kind, entity["DocNumber"])] = entity
    return found


def _record_found(mine, wanted, in_qbo, result):
    """Rows QBO already has are recorded synced; the rest ({epos_id: row id}) are to be posted."""
    found, to_post = [], {}
    for epos_id, row_id in mine.items():
        receipt = wanted[epos_id]
        entity = in_qbo.get((receipt.kind, receipt.doc_number))
        if entity:
            found.append({"id": row_id, "status": "synced", "qbo_id": str(entity.get("Id", "")),
                          "message": "found in QuickBooks by its DocNumber; not posted again"})
        else:
            to_post[epos_id] = row_id
    ledger.record(found)
    result.existing += len(found)
    return to_post


def _post(ctx, qbo, company, to_post, wanted, in_qbo, result, progress):
    """Post in batches (30 at most), QBO_CONCURRENCY batches in flight; outcomes are written batch by
    batch. After an error or Terminate no new batch is sent: unsent rows stay pending, for the next run."""
    app = current_app._get_current_object()
    size = max(1, min(MAX_BATCH, app.config["QBO_BATCH_SIZE"]))
    ids = sorted(to_post, key=lambda k: (len(k), k))
    batches = [ids[i:i + size] for i in range(0, len(ids), size)]
    error, stop, done = None, threading.Event(), len(wanted) - len(to_post)
    with ThreadPoolExecutor(max_workers=app.config["QBO_CONCURRENCY"], thread_name_prefix=f"qbo-{company}") as pool:
        futures = [pool.submit(_in_app, app, _send_batch, qbo, company, ctx.run_id, batch, wanted, stop) for batch in batches]
        for future in as_completed(futures):
            try:
                outcomes = future.result()
            except Exception as exc:  # unknown outcome: its rows stay pending, found by DocNumber next time
                error, _ = error or exc, stop.set()
                continue
            if outcomes is None:  # not sent: the run is stopping
                continue
            _resolve_duplicates(outcomes, wanted, qbo, in_qbo)
            ledger.record([{**o, "id": to_post[o["epos_id"]]} for o in outcomes])
            _count(ctx, result, outcomes)
            done += len(outcomes)
            error = error or _stopping(ctx, stop, lambda: progress(done, len(wanted)))
    if error is not None:
        raise error


def _stopping(ctx, stop, report):
    """Report progress and look for Terminate or the time limit (ctx.progress raises them too); an error
    is kept, and no new batch sent, so that the batches in flight are recorded before it is raised."""
    try:
        report()
        ctx.check_cancelled()
    except Exception as exc:
        stop.set()
        return exc
    return None


def _in_app(app, func, *args):
    # A token refresh writes the company's row: the thread needs the app (and a session of its own).
    with app.app_context():
        return func(*args)


def _send_batch(qbo, company, run_id, batch, wanted, stop):
    if stop.is_set():
        return None
    # Stable for this run's resends (Intuit replays the answer), new for the next run: a batch refused
    # once must be really sent again after its cause is fixed, not answered from Intuit's memory.
    request_id = hashlib.sha1(f"{company}|{run_id}|{'|'.join(batch)}".encode()).hexdigest()
    items = [(str(n), wanted[epos_id].kind, wanted[epos_id].body) for n, epos_id in enumerate(batch, 1)]
    created, refused = qbo.batch(items, request_id)
    outcomes = []
    for n, epos_id in enumerate(batch, 1):
        if str(n) in created:
            outcomes.append({"epos_id": epos_id, "status": "synced", "qbo_id": str(created[str(n)].get("Id", "")),
                             "request_id": request_id, "created": True})
        else:
            code, text = refused[str(n)]
            outcomes.append({"epos_id": epos_id, "status": "failed", "code": code, "message": f"QBO {code}: {text}",
                             "request_id": request_id})
    return outcomes


def _resolve_duplicates(outcomes, wanted, qbo, in_qbo):
    """A 'Duplicate Document Number' refusal means the receipt is there (posted by a run we lost track of)."""
    for outcome in outcomes:
        if outcome.get("code") != DUPLICATE_DOC:
            continue
        receipt = wanted[outcome["epos_id"]]
        entity = in_qbo.get((receipt.kind, receipt.doc_number)) or next(iter(qbo.query(
            f"select * from {receipt.kind} where DocNumber = '{receipt.doc_number}'")), None)
        if entity:
            outcome.update(status="synced", qbo_id=str(entity.get("Id", "")), created=False,
                           message="QuickBooks already had this DocNumber; recorded, not posted again")


def _count(ctx, result, outcomes):
    created = sum(1 for o in outcomes if o["status"] == "synced" and o.get("created"))
    existing = sum(1 for o in outcomes if o["status"] == "synced" and not o.get("created"))
    failed = [o for o in outcomes if o["status"] == "failed"]
    result.created += created
    result.existing += existing
    result.failed += len(failed)
    result.failures += [f"{o['epos_id']}: {o['message']}" for o in failed][:20]
    ctx.count(inserted=created, failed=len(failed))
    for o in failed:
        ctx.log.error("%s EPOS %s refused: %s", result.company, o["epos_id"], o["message"])


def _reconcile(qbo, trading_date, prefix, result):
    in_qbo = _qbo_receipts(qbo, trading_date, prefix)
    total = Decimal("0.00")
    for (kind, _doc), entity in in_qbo.items():
        amount = Decimal(str(entity.get("TotalAmt", 0))).quantize(Decimal("0.01"))
        total += -amount if kind == REFUND else amount
    result.qbo_total = total
    result.status = "MATCH" if result.difference == 0 else "MISMATCH"


def _store(ctx, result, seconds, message=""):
    """The run's artifact for this company and date (a failed attempt too, with its reason)."""
    if result.failures and not message:
        message = f"{result.failed} receipt(s) refused by QuickBooks: " + "; ".join(result.failures[:5])
    db.session.add(EposQboReconciliation(
        company=result.company, trading_date=result.trading_date, run_id=ctx.run_id,
        succeeded=not message and result.failed == 0, status=result.status, epos_total=result.epos_total,
        qbo_total=result.qbo_total, difference=result.difference, epos_count=result.epos_count,
        receipts_created=result.created, receipts_existing=result.existing, receipts_failed=result.failed,
        seconds=round(seconds, 3), message=message))
    db.session.commit()


__all__ = ["CompanyNotReady", "DayResult", "ReceiptError", "sync_day"]
