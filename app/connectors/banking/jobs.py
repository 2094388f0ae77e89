"""Banking's jobs: import a statement (then match its credits), re-match after a UISP refresh, post the
matched credits to UISP, and run or roll back a bulk reconciliation.

Imports and matching share the lock `banking:lines`; posting holds `banking:post` (it reads only
matched lines, and matching never changes a matched one);
bulk reconciliations hold `banking:bulk`, one at a time, since two could pay the same invoice.
"""
from flask import current_app

from ...extensions import db
from ...runs.models import Run

from ...runs.registry import JobError, Param, job
from ..base.upload import UploadError
from . import bulk, inbox, matching, posting, uisp_payments
from .importer import ImportRejected, import_statement

CONNECTOR = "banking"
RECON = Param("reconciliation", "int", required=True, help="Bulk reconciliation number")


@job("banking.import_statement", title="Banking: import a statement", connector=CONNECTOR, lock="banking:lines",
     params=(Param("statement", "file", required=True, help="CSV, MT940, CAMT.053 or OFX statement file"),
             Param("account", "str", help="Account key (needed for CSV files without an account column)")),
     timeout=1800)
def import_statement_job(ctx):
    """Imports a bank statement file whole (or rejects it whole), then matches its new credits."""
    try:
        record = import_statement(ctx.params["statement"], ctx.params.get("account") or "",
                                  username=_requested_by(ctx), run_id=ctx.run_id,
                                  progress=lambda done, total: ctx.progress(done, total, f"{done:,} of {total:,} lines"))
    except (ImportRejected, UploadError) as exc:
        raise JobError(f"rejected, nothing imported: {exc}") from None
    ctx.count(fetched=record.lines_total, inserted=record.lines_new)
    ctx.log.info("%s: %s lines, %s new, %s duplicate", record.filename, record.lines_total, record.lines_new,
                 record.lines_duplicate)
    counts = matching.match_pending()
    ctx.summary = (f"{record.filename}: {record.lines_new:,} new, {record.lines_duplicate:,} duplicate; "
                   f"credits matched {counts.get('matched', 0)}, review {counts.get('review', 0)}, "
                   f"unmatched {counts.get('unmatched', 0)}")


@job("banking.scan_inbox", title="Banking: import the watched folder", connector=CONNECTOR, lock="banking:lines",
     cron="*/5 * * * *", timeout=1800)
def scan_inbox_job(ctx):
    """Imports the statement files dropped into BANKING_INBOX, then matches their new credits."""
    folder = current_app.config.get("BANKING_INBOX") or ""
    if not folder:
        ctx.summary = "no watched folder (BANKING_INBOX is not set)"
        return
    try:
        imported, rejected = inbox.scan(folder, "inbox", ctx.run_id, ctx.log)
    except FileNotFoundError as exc:
        raise JobError(str(exc)) from None
    counts = matching.match_pending() if imported else {}
    ctx.summary = (f"{imported} file(s) imported, {rejected} rejected; credits matched {counts.get('matched', 0)}"
                   if imported or rejected else "no file waiting")
    if rejected:
        raise JobError(f"{rejected} file(s) rejected (see {folder}/rejected/); {imported} imported")


@job("banking.match", title="Banking: match credits to customers", connector=CONNECTOR, lock="banking:lines",
     after=("uisp.refresh",), timeout=1800)
def match_job(ctx):
    """Matches unmatched and review credits again, from the freshest UISP customers and invoices."""
    counts = matching.match_pending(progress=lambda done: ctx.progress(done, None, f"{done:,} credits"))
    ctx.count(updated=sum(counts.values()))
    ctx.summary = ", ".join(f"{n:,} {status}" for status, n in sorted(counts.items())) or "nothing to match"


@job("banking.post_payments", title="Banking: post payments to UISP", connector=CONNECTOR, lock="banking:post",
     counters=("pushed", "skipped"), timeout=3600, permission="post_payments")
def post_payments_job(ctx):
    """Posts every matched credit to UISP as a payment, exactly once."""
    outcomes = posting.post_matched(ctx, workers=uisp_payments.in_flight())
    ctx.summary = f"{ctx.counters.get('pushed', 0):,} posted, {outcomes['failed']:,} failed"


@job("banking.bulk_reconcile", title="Banking: bulk reconciliation", connector=CONNECTOR, lock="banking:bulk",
     params=(RECON,), timeout=7200, permission="post_payments")
def bulk_reconcile_job(ctx):
    """Pays a deposit's invoices one payment each, batch by batch; on any failure deletes every one again."""
    bulk.run(ctx, ctx.params["reconciliation"])


@job("banking.bulk_rollback", title="Banking: roll back a bulk reconciliation", connector=CONNECTOR,
     lock="banking:bulk", params=(RECON,), timeout=3600, permission="post_payments")
def bulk_rollback_job(ctx):
    """Deletes the payments a bulk reconciliation still holds at UISP (after a dead run)."""
    bulk.roll_back(ctx, ctx.params["reconciliation"])


def _requested_by(ctx):
    run = db.session.get(Run, ctx.run_id)
    return run.requested_by if run is not None else ""
