"""EPOS→QBO runs for a target trading date: one company, or every active company side by side.

Without a date a run takes the last complete trading date (business timezone and day cutoff from
Settings), which is what the nightly schedule wants. A single-company run holds the lock
`epos_qbo:<company>`: runs for different companies go side by side. The all-companies run starts
at most `epos_qbo_parallel` companies at once, `epos_qbo_stagger_seconds` apart (QBO throttles per
realm, EPOS per account: staggering spreads the first burst); a company that fails does not stop
the others, and the run ends failed naming it.
"""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from flask import current_app

from ... import settings
from ...runs.registry import JobError, Param, job
from ...extensions import db
from ..base.connections import active_connections
from .sync import Company, sync_day
from .trading import business_rules, parse_date, target_trading_date, window

CONNECTOR = "epos_qbo"
DATE = Param("date", "date", help="Trading date (YYYY-MM-DD); empty: the last complete trading date")


@job("epos_qbo.sync_company", title="EPOS→QBO: one company", connector=CONNECTOR, lock="epos_qbo:{company}",
     params=(Param("company", "str", required=True, help="Company key"), DATE), timeout=3600)
def sync_company(ctx):
    """Posts one company's EPOS sales of a trading date to QuickBooks as receipts, once, and reconciles."""
    tz, cutoff = business_rules()
    day = window(_trading_date(ctx, tz, cutoff), tz, cutoff)
    try:
        conn = Company.load(ctx.params["company"])
    except LookupError as exc:
        raise JobError(str(exc)) from None
    ctx.progress(0, None, f"{conn.display_name} {day.day}: fetching EPOS sales")
    result = sync_day(ctx, conn, day, cutoff, progress=lambda done, total: ctx.progress(
        done, total, f"{conn.display_name} {day.day}: {done:,} of {total:,} receipts"))
    # A refused receipt fails alone (its row, the day's MISMATCH and the summary say so), as in every push.
    ctx.summary = _summary(conn.display_name, result)


@job("epos_qbo.sync_all", title="EPOS→QBO: all companies", connector=CONNECTOR, lock="epos_qbo:all",
     cron="30 4 * * *", params=(DATE,), freshness=True, timeout=7200)
def sync_all(ctx):
    """Posts every active company's EPOS sales of a trading date to QuickBooks, companies side by side."""
    tz, cutoff = business_rules()
    day = window(_trading_date(ctx, tz, cutoff), tz, cutoff)
    companies = active_connections(CONNECTOR)
    parallel = max(1, int(settings.get("epos_qbo_parallel")))
    stagger = float(settings.get("epos_qbo_stagger_seconds"))
    companies = [(conn.key, conn.display_name) for conn in companies]
    db.session.rollback()  # no transaction stays open while the companies' threads write
    ctx.log.info("trading date %s (%s–%s local): %d companies, %d at a time", day.day, day.start, day.end,
                 len(companies), parallel)
    outcomes, done, lock = {}, [0], threading.Lock()
    app = current_app._get_current_object()

    def one(index, key, name):
        time.sleep(stagger * index if index < parallel else 0)  # only the first wave is staggered
        with app.app_context():
            try:
                ctx.check_cancelled()
                outcomes[key] = sync_day(ctx, Company.load(key), day, cutoff)
            except Exception as exc:
                outcomes[key] = exc
                ctx.log.error("%s: %s", name, exc)
        with lock:
            done[0] += 1
            ctx.progress(done[0], len(companies), f"{done[0]} of {len(companies)} companies")

    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="epos-qbo") as pool:
        for index, (key, name) in enumerate(companies):
            pool.submit(one, index, key, name)
    ctx.check_cancelled()
    _finish(ctx, day.day, companies, outcomes)


def _finish(ctx, day, companies, outcomes):
    failed = {k: v for k, v in outcomes.items() if isinstance(v, Exception)}
    results = [v for v in outcomes.values() if not isinstance(v, Exception)]
    created = sum(r.created for r in results)
    refused = sum(r.failed for r in results)
    mismatched = [r.company for r in results if r.status == "MISMATCH"]
    ctx.summary = (f"{day}: {len(results)} of {len(companies)} companies synced, {created:,} receipts created"
                   + (f", {refused} refused" if refused else "") + (f", MISMATCH: {', '.join(mismatched)}"
                                                                     if mismatched else ""))
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(companies)} companies failed: "
                           + "; ".join(f"{k}: {v}" for k, v in sorted(failed.items()))[:1500])


def _trading_date(ctx, tz, cutoff):
    raw = ctx.params.get("date")
    return parse_date(raw) if raw else target_trading_date(tz, cutoff)


def _summary(name, result):
    text = (f"{name} {result.trading_date}: {result.created:,} receipts created, {result.existing:,} already in "
            f"QuickBooks, {result.status}")
    if result.status == "MISMATCH":
        text += f" (EPOS {result.epos_total} vs QBO {result.qbo_total})"
    if result.failed:
        text += f"; {result.failed} refused: " + "; ".join(result.failures[:3])
    return text
