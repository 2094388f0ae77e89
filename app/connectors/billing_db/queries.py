"""The bill-stop pages' queries: kept batches, statistics, summary, details, comparison, schedule.

Every query on the summary or details tables filters by batch_id first, so it runs on the
(batch_id, …) indexes; lists are read a page at a time and exports a chunk at a time.
"""
from datetime import timedelta

from flask import abort, request
from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import aliased

from ...extensions import db
from ...filters import choice_arg, text_arg
from ...runs import history
from ...runs.schedules import describe
from .models import BILL_STOP, BILLING_STATUSES, BillStopBatch, BillStopDetail, BillStopSummary

JOB_ID = "billing.bill_stop_batch"
KEPT = "completed"  # the only status whose summary and details rows still exist
MAX_PER_PAGE = 500
MAX_BATCH_ID = 10 ** 15


# --- batches ------------------------------------------------------------------------------------

def _kept():
    return (select(BillStopBatch).where(BillStopBatch.status == KEPT)
            .order_by(BillStopBatch.batch_date.desc(), BillStopBatch.id.desc()))


def visible_batch():
    """The latest completed batch (by date, then id): what the pages show by default, or None."""
    return db.session.scalars(_kept().limit(1)).first()


def kept_batches(limit=None):
    """Completed batches, newest first (their number is bounded by the 'batch dates kept' setting)."""
    return db.session.scalars(_kept().limit(limit)).all()


def batch_arg(name):
    """The kept batch a query argument names, or None when absent; a 400 for anything else."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) > MAX_BATCH_ID:
        abort(400, f"'{name}' must be a batch id (a whole number), got {raw[:40]!r}")
    batch = db.session.get(BillStopBatch, int(raw))
    if batch is None:
        abort(400, f"There is no batch {raw}; see the batch history for the kept ones.")
    if batch.status != KEPT:
        abort(400, f"Batch {raw} is {batch.status}: its rows are not kept; see the batch history.")
    return batch


def window_last_day(batch):
    """The window's end is exclusive in the log; people read the last day included."""
    return batch.window_end - timedelta(days=1)


def latest_failure_after(batch):
    """The newest batch if it failed or was cancelled after the shown one (its data stayed in place)."""
    newest = db.session.scalars(select(BillStopBatch).order_by(BillStopBatch.id.desc()).limit(1)).first()
    if newest is None or newest.status not in ("failed", "cancelled"):
        return None
    return newest if batch is None or newest.id > batch.id else None


def statistics(batch):
    """The four cards: CRPs, CPCs, bill stops and their share, from the counts published with the batch."""
    share = round(batch.bill_stop_count * 100 / batch.details_count, 2) if batch.details_count else 0.0
    return {"crps": batch.summary_count, "cpcs": batch.details_count, "bill_stops": batch.bill_stop_count,
            "bill_stop_percentage": share}


# --- summary and details ----------------------------------------------------------------------------

class _Pagination(SelectPagination):
    """A page of a select whose total may already be known from the batch log (no count over the batch)."""

    def _query_count(self):
        known = self._query_args.get("total")
        return known if known is not None else super()._query_count()


def paginate(query, page, per_page, total=None):
    return _Pagination(select=query, session=db.session(), page=page, per_page=per_page,
                       max_per_page=MAX_PER_PAGE, error_out=False, total=total)


def summary_query(batch_id):
    """CRPs of a batch, most bill stops first."""
    return (select(BillStopSummary).where(BillStopSummary.batch_id == batch_id)
            .order_by(BillStopSummary.bill_stop_count.desc(), BillStopSummary.crp_account_no))


def detail_filters():
    """The details filters from the query string: crp, status (one of BILLING_STATUSES) and q."""
    return {"crp": text_arg("crp", 50), "status": choice_arg("status", BILLING_STATUSES), "q": text_arg("q", 100)}


def _like(text):
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def details_query(batch_id, filters, columns=None):
    """Details of a batch matching the filters, bill stops first, then by CPC number (highest first)."""
    d = BillStopDetail
    query = select(*(columns or [d])).where(d.batch_id == batch_id)
    if filters.get("crp"):
        query = query.where(d.crp_account_no == filters["crp"])
    if filters.get("status"):
        query = query.where(d.billing_status == filters["status"])
    if filters.get("q"):
        pattern = _like(filters["q"])
        query = query.where(or_(d.cpc_customer_no.ilike(pattern, escape="\\"),
                                d.legacy_no.ilike(pattern, escape="\\"),
                                d.customer_name.ilike(pattern, escape="\\")))
    # Both descending: the (batch_id, is_bill_stop, cpc_customer_no) index read backwards, no sort.
    return query.order_by(d.is_bill_stop.desc(), d.cpc_customer_no.desc())


def details_total(batch, filters):
    """The filtered count when the batch log already holds it, else None (then it is counted)."""
    if filters.get("crp") or filters.get("q"):
        return None
    if not filters.get("status"):
        return batch.details_count
    return batch.bill_stop_count if filters["status"] == BILL_STOP else None


# --- comparison --------------------------------------------------------------------------------------

def compare_pair():
    """(a, b) from the query string; each missing one defaults to the two latest kept batches."""
    a, b = batch_arg("a"), batch_arg("b")
    if a is None or b is None:
        latest = kept_batches(2)
        if b is None:
            b = latest[0] if latest else None
        if a is None:
            a = next((x for x in latest if b is None or x.id != b.id), None)
    if a is not None and b is not None and a.id == b.id:
        abort(400, "Choose two different batches to compare.")
    return a, b


def bill_stops_not_in(batch_id, other_batch_id):
    """Bill stops of one batch that were not bill stops in the other (per CPC, on the primary key)."""
    d, other = BillStopDetail, aliased(BillStopDetail)
    was = exists().where(other.batch_id == other_batch_id, other.cpc_customer_no == d.cpc_customer_no,
                         other.billing_status == BILL_STOP)
    return (select(d).where(d.batch_id == batch_id, d.billing_status == BILL_STOP, ~was)
            .order_by(d.cpc_customer_no))


def statuses_in(batch_id, cpcs):
    """{cpc: billing status} in a batch for some CPCs (one page's worth)."""
    if not cpcs:
        return {}
    rows = db.session.execute(select(BillStopDetail.cpc_customer_no, BillStopDetail.billing_status)
                              .where(BillStopDetail.batch_id == batch_id, BillStopDetail.cpc_customer_no.in_(cpcs)))
    return dict(rows.all())


# --- runs and schedule -------------------------------------------------------------------------------

def last_run():
    """The batch job's most recent run, in flight or not."""
    return history.last_runs([JOB_ID]).get(JOB_ID)


def schedule_info():
    """{'next': time, 'words': 'daily at 02:00'} for the soonest enabled schedule, or None when none fires."""
    fire = history.next_fire(JOB_ID)
    return None if fire is None else {"next": fire["next"], "words": in_words(fire["cron"])}


def in_words(cron):
    """'0 2 * * *' → 'daily at 02:00'; other crons as cron_descriptor says them."""
    words = describe(cron)
    if cron.split()[-3:] == ["*", "*", "*"] and words.startswith("At "):
        return "daily at " + words[3:]
    return words[:1].lower() + words[1:]
