"""The bill-stop batch's bookkeeping on our side: start a batch, write its chunks, publish or discard it."""
import queue
import threading
from datetime import date, timedelta

from sqlalchemy import case, delete, func, literal, select, update

from ...db import utcnow
from ...extensions import db
from ...runs.context import JobCancelled
from ..base import bulk_insert, copy_csv
from ..base.snapshot import Snapshot
from . import partitions
from .models import ACTIVE_BILLING, BillStopBatch, BillStopDetail, BillStopSummary


def billing_window(batch_date: date, days: int):
    """[start, end) of the window a frozen segment must end in: this month, or the last `days` days."""
    if days:
        return batch_date - timedelta(days=days - 1), batch_date + timedelta(days=1)
    start = batch_date.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1)


class BillStopSnapshot(Snapshot):
    """One bill-stop batch as a snapshot: invisible while it loads, published whole or discarded whole."""

    def __init__(self, run_id, batch_date, window, keep_dates):
        self.run_id, self.batch_date, self.window, self.keep_dates = run_id, batch_date, window, keep_dates
        self.batch_id = None

    def begin(self):
        self.batch_id = start_batch(self.run_id, self.batch_date, self.window)

    def publish(self):
        """(summary rows, detail rows, bill stops) of the published batch."""
        return publish(self.batch_id, self.keep_dates)

    def discard(self, error):
        discard(self.batch_id, "cancelled" if isinstance(error, JobCancelled) else "failed", error)


def start_batch(run_id, batch_date, window):
    """Clear what dead batches left behind and open a new, invisible (running) batch."""
    with db.engine.begin() as conn:
        for batch_id in conn.scalars(select(BillStopBatch.id).where(BillStopBatch.status == "running")).all():
            _delete_rows(conn, batch_id)
            conn.execute(update(BillStopBatch).where(BillStopBatch.id == batch_id)
                         .values(status="failed", error="runner lost", finished_at=utcnow()))
        partitions.sweep(conn, set(conn.scalars(select(BillStopBatch.id).where(BillStopBatch.status == "completed"))))
        batch_id = conn.execute(BillStopBatch.__table__.insert().values(
            batch_date=batch_date, run_id=run_id, status="running", window_start=window[0], window_end=window[1],
            started_at=utcnow(), error="").returning(BillStopBatch.id)).scalar_one()
        partitions.create(conn, batch_id)
        return batch_id


class ChunkWriter:
    """Writes chunks of a batch's detail rows on its own thread and connection, so reading the source
    and writing our database overlap; an error on either side stops both.

    A chunk is a list of tuples, or with raw=True PostgreSQL CSV bytes from the source's COPY.
    """

    def __init__(self, engine, batch_id, raw=False, maxsize=2):
        self.engine, self.target = engine, partitions.load_target(engine, batch_id)
        self.write = copy_csv if raw else bulk_insert
        self.queue = queue.Queue(maxsize=maxsize)
        self.error = None
        self.written = 0
        self.thread = threading.Thread(target=self._run, name="bill-stop-writer", daemon=True)
        self.thread.start()

    def put(self, chunk, n):
        self._raise_if_failed()
        self.queue.put((chunk, n))

    def close(self):
        """Wait until every chunk is written; raise the writer's error if it had one."""
        self.queue.put(None)
        self.thread.join()
        self._raise_if_failed()

    def abort(self):
        """Stop after the chunk being written (the caller discards the batch)."""
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                break
        self.queue.put(None)
        self.thread.join(timeout=60)

    def _run(self):
        while (item := self.queue.get()) is not None:
            if self.error is not None:
                continue
            try:
                with self.engine.begin() as conn:
                    self.write(conn, self.target, item[0])
                self.written += item[1]
            except Exception as exc:  # handed to the reading thread, which fails the batch
                self.error = exc

    def _raise_if_failed(self):
        if self.error is not None:
            raise self.error


def last_details_count():
    """How many CPC rows the last completed batch had (None before the first)."""
    with db.engine.connect() as conn:
        return conn.scalar(select(BillStopBatch.details_count).where(BillStopBatch.status == "completed")
                           .order_by(BillStopBatch.id.desc()).limit(1))


def publish(batch_id, keep_dates):
    """Index and attach the batch's partition (PostgreSQL), summarise it, make it the visible one for
    its date, and drop what falls out of history: one transaction, so pages see all of it or none."""
    d = BillStopDetail.__table__
    stops = func.sum(case((d.c.is_bill_stop, 1), else_=0))
    active = func.sum(case((d.c.billing_status == ACTIVE_BILLING, 1), else_=0))
    total = func.count()
    summary = (select(literal(batch_id), d.c.crp_account_no, total, stops, active,
                      func.round(stops * 100.0 / total, 2))
               .where(d.c.batch_id == batch_id).group_by(d.c.crp_account_no))
    with db.engine.begin() as conn:
        partitions.index_and_attach(conn, batch_id)
        n_summary = conn.execute(BillStopSummary.__table__.insert().from_select(
            ["batch_id", "crp_account_no", "total_cpc_count", "bill_stop_count", "active_billing_count",
             "bill_stop_percentage"], summary)).rowcount
        n_details, n_stops = conn.execute(select(func.count(), func.coalesce(stops, 0))
                                          .where(d.c.batch_id == batch_id)).one()
        batch_date = conn.scalar(select(BillStopBatch.batch_date).where(BillStopBatch.id == batch_id))
        _supersede(conn, batch_date, batch_id)
        conn.execute(update(BillStopBatch).where(BillStopBatch.id == batch_id).values(
            status="completed", finished_at=utcnow(), summary_count=n_summary, details_count=n_details,
            bill_stop_count=n_stops))
        _keep_latest_dates(conn, keep_dates)
    return n_summary, n_details, n_stops


def discard(batch_id, status, error):
    """Delete every row the batch wrote and record how it ended (failed or cancelled)."""
    with db.engine.begin() as conn:
        _delete_rows(conn, batch_id)
        conn.execute(update(BillStopBatch).where(BillStopBatch.id == batch_id).values(
            status=status, error=str(error)[:4000], finished_at=utcnow()))


def _supersede(conn, batch_date, batch_id):
    """An earlier completed batch of the same date gives way to this one (its log row stays)."""
    older = select(BillStopBatch.id).where(BillStopBatch.batch_date == batch_date, BillStopBatch.status == "completed",
                                           BillStopBatch.id != batch_id)
    for old_id in conn.scalars(older).all():
        _delete_rows(conn, old_id)
        conn.execute(update(BillStopBatch).where(BillStopBatch.id == old_id).values(status="superseded"))


def _keep_latest_dates(conn, keep_dates):
    dates = conn.scalars(select(BillStopBatch.batch_date).where(BillStopBatch.status == "completed")
                         .distinct().order_by(BillStopBatch.batch_date.desc())).all()
    for old_date in dates[keep_dates:]:
        for old_id in conn.scalars(select(BillStopBatch.id).where(BillStopBatch.batch_date == old_date,
                                                                  BillStopBatch.status == "completed")).all():
            _delete_rows(conn, old_id)
            conn.execute(update(BillStopBatch).where(BillStopBatch.id == old_id).values(status="expired"))


def _delete_rows(conn, batch_id):
    conn.execute(delete(BillStopSummary).where(BillStopSummary.batch_id == batch_id))
    if not partitions.drop(conn, batch_id):
        conn.execute(delete(BillStopDetail).where(BillStopDetail.batch_id == batch_id))
