"""The numbers on the Overview page, computed for the business day."""
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import and_, func, select

from ..db import utcnow
from ..extensions import db
from ..runs import history
from ..runs.models import Run
from ..runs.registry import all_jobs
from .. import settings

TREND_LENGTH = 12


def business_day_window(now_utc=None, values=None):
    """[start, end) in naive UTC of the business day containing now (day starts at the cutoff)."""
    values = values or settings.get_many()
    tz = settings.ZoneInfo(values["business_timezone"])
    hours, minutes = map(int, values["day_cutoff"].split(":"))
    local_now = (now_utc or utcnow()).replace(tzinfo=timezone.utc).astimezone(tz)
    start_local = datetime.combine(local_now.date(), time(hours, minutes), tzinfo=tz)
    if local_now < start_local:
        start_local -= timedelta(days=1)
    end_local = datetime.combine(start_local.date() + timedelta(days=1), time(hours, minutes), tzinfo=tz)
    to_utc = lambda d: d.astimezone(timezone.utc).replace(tzinfo=None)  # noqa: E731
    return to_utc(start_local), to_utc(end_local), start_local.date()


@dataclass
class Kpis:
    day: object
    runs: int
    finished: int
    succeeded: int
    avg_runtime: float | None
    rows_synced: int

    @property
    def success_rate(self):
        return None if not self.finished else 100.0 * self.succeeded / self.finished


def kpis(values=None):
    start, end, day = business_day_window(values=values)
    in_day = and_(Run.queued_at >= start, Run.queued_at < end)
    seconds = _seconds_between(Run.started_at, Run.finished_at)
    row = db.session.execute(select(
        func.count(Run.id),
        func.count(Run.finished_at),
        func.sum(func.cast(Run.status == "succeeded", db.Integer)),
        func.avg(seconds),
        func.sum(Run.rows_inserted + Run.rows_updated + Run.rows_deleted),
    ).where(in_day)).one()
    return Kpis(day, row[0], row[1], row[2] or 0, float(row[3]) if row[3] is not None else None, int(row[4] or 0))


def _seconds_between(start, end):
    if db.engine.dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


@dataclass
class JobCard:
    job: object
    last: Run | None
    last_success: Run | None
    next_run: datetime | None
    trend: list  # durations of recent finished runs, oldest first
    disabled: bool


def job_cards(values=None):
    """One card per job (connectors' first, then the system's), from a handful of queries in all."""
    values = values or settings.get_many()
    jobs = [j for j in all_jobs() if not j.system] + [j for j in all_jobs() if j.system]
    ids = [j.id for j in jobs]
    disabled = set(values["disabled_jobs"])
    last, successes = history.last_runs(ids), history.last_successes(ids)
    trends, fires = history.recent_durations(ids, TREND_LENGTH), history.next_fires(ids, values)
    return [JobCard(j, last.get(j.id), successes.get(j.id), (fires.get(j.id) or (None,))[0], trends[j.id],
                    j.id in disabled) for j in jobs]


def recent_events(limit=10):
    return db.session.scalars(select(Run).order_by(Run.id.desc()).limit(limit)).all()


def needing_attention(limit=20):
    """Each job's latest finished run when it failed, plus runs queued for over five minutes."""
    latest = select(func.max(Run.id)).where(Run.finished_at.is_not(None)).group_by(Run.job_id)
    failed = db.session.scalars(select(Run).where(Run.id.in_(latest), Run.status == "failed")
                                .order_by(Run.id.desc()).limit(limit)).all()
    stuck = db.session.scalars(select(Run).where(Run.status == "queued",
                                                 Run.queued_at < utcnow() - timedelta(minutes=5))
                               .order_by(Run.id).limit(limit)).all()
    return failed + stuck
