"""billing.bill_stop_batch: stream the bill-stop query from CC&B into the cache, chunk by chunk."""
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError

from ... import settings
from ...db import installed_driver
from ...extensions import db
from ...runs.registry import job
from ..base import SourceError
from ..base.snapshot import take
from . import batch as batches
from .reader import read_chunks
from .source import details_query


def source_engine(config):
    url = config.get("BILLING_DB_URL")
    if not url:
        raise SourceError("The billing database is not configured: set BILLING_DB_URL (e.g. oracle+oracledb://…)")
    schema = config.get("BILLING_DB_SCHEMA")
    # CC&B's tables belong to its owner schema (CISADM); the query names them bare, so prefix them here.
    options = {"schema_translate_map": {None: schema}} if schema else {}
    return create_engine(installed_driver(url), pool_pre_ping=True, execution_options=options)


@job("billing.bill_stop_batch", title="Bill stop batch", connector="billing", cron="0 2 * * *", lock="billing",
     timeout=4 * 3600, freshness=True, stale_minutes=26 * 60)
def bill_stop_batch(ctx):
    """Find every CPC customer with a bill stop in CC&B and cache the details and per-CRP summary."""
    tz = ZoneInfo(settings.cached("business_timezone"))
    batch_date = datetime.now(tz).date()
    window = batches.billing_window(batch_date, settings.cached("billing_window_days"))
    keep = settings.cached("billing_keep_batches")
    source = source_engine(current_app.config)
    snapshot = batches.BillStopSnapshot(ctx.run_id, batch_date, window, keep)

    def fill(batch):
        ctx.log.info("batch=%s date=%s window=%s..%s", batch.batch_id, batch_date, *window)
        started = time.perf_counter()
        details = _stream_details(ctx, source, batch.batch_id, window)
        ctx.log.info("streamed %s rows in %.1f s", details, time.perf_counter() - started)

    try:
        n_summary, n_details, n_stops = take(ctx, snapshot, fill)
    finally:
        source.dispose()
    ctx.count(inserted=n_summary + n_details)
    ctx.summary = f"Found {n_stops:,} bill stops among {n_details:,} CPCs under {n_summary:,} CRPs"
    ctx.log.info("batch=%s details=%s summary=%s bill_stops=%s", snapshot.batch_id, n_details, n_summary, n_stops)


def _stream_details(ctx, source, batch_id, window):
    """Read the query in chunks and write each chunk (on the writer's thread) while the next is read."""
    chunk = current_app.config.get("BILLING_CHUNK_ROWS", 10_000)
    pause = current_app.config.get("BILLING_CHUNK_PAUSE_SECONDS", 0)
    # Counting first would cost a second pass over the source; the last batch's size is a fair estimate.
    total = batches.last_details_count()
    # PostgreSQL to PostgreSQL, the source's COPY output is loaded as it is.
    raw = source.dialect.name == "postgresql" and db.engine.dialect.name == "postgresql"
    writer = batches.ChunkWriter(db.engine, batch_id, raw=raw)
    done = 0

    def take(chunk, n):
        nonlocal done
        writer.put(chunk, n)
        done += n
        ctx.count(fetched=n)
        ctx.progress(done, max(total or 0, done), f"{done:,} CPC rows read")
        if pause:
            time.sleep(pause)

    try:
        with source.connect() as conn:
            ctx.progress(0, total, "reading CC&B")
            try:
                read_chunks(conn, details_query(batch_id, *window), chunk, take, raw=raw)
            except Exception as exc:
                if _connection_lost(conn, exc):
                    raise SourceError(f"Lost the connection to the billing database after {done:,} rows "
                                      f"({str(exc).strip() or type(exc).__name__})") from exc
                raise
        writer.close()
    except BaseException:
        writer.abort()
        raise
    ctx.progress(done, done, f"{done:,} CPC rows read")
    return done


def _connection_lost(conn, exc):
    """Whether the source connection died under the read (dropped, killed, restarted).

    The driver's own words vary with the moment it died: killed mid-COPY, psycopg2 says only
    "error with status PGRES_COPY_OUT and no message from the libpq".
    """
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    raw = conn.connection.dbapi_connection
    return raw is None or bool(getattr(raw, "closed", False))  # psycopg2: nonzero once the link is gone
