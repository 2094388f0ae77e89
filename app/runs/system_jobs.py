"""Jobs the platform itself runs: retention purge, stale-run reconcile, data freshness check."""
from datetime import timedelta

from sqlalchemy import delete, select

from .. import settings
from ..db import utcnow
from ..extensions import db
from .freshness import stale_jobs
from .models import TERMINAL, Run, RunLog, ScheduleFire, WorkerProcess
from .notifications import notify_stale
from .reaper import reconcile_runs
from .registry import job

PURGE_BATCH = 5000


@job("system.purge", title="Purge old runs and logs", connector="system", system=True,
     cron="17 3 * * *", description="Delete runs, log lines and schedule fires past the retention period.")
def purge(ctx):
    days = settings.get("retention_days")
    cutoff = utcnow() - timedelta(days=days)
    ctx.log.info("retention_days=%s cutoff=%s", days, cutoff.isoformat(timespec="seconds"))
    deleted = 0
    while True:
        ids = db.session.scalars(
            select(Run.id).where(Run.status.in_(TERMINAL), Run.finished_at < cutoff, Run.id != ctx.run_id)
            .limit(PURGE_BATCH)).all()
        if not ids:
            break
        db.session.execute(delete(RunLog).where(RunLog.run_id.in_(ids)))
        db.session.execute(delete(Run).where(Run.id.in_(ids)))
        db.session.commit()  # one batch at a time keeps transactions short
        deleted += len(ids)
        ctx.count(deleted=len(ids))
        ctx.progress(deleted, None, f"{deleted} runs purged")
    fires = db.session.execute(delete(ScheduleFire).where(ScheduleFire.created_at < cutoff)).rowcount
    processes = db.session.execute(
        delete(WorkerProcess).where(WorkerProcess.heartbeat_at < utcnow() - timedelta(days=1))).rowcount
    db.session.commit()
    ctx.summary = f"Purged {deleted} runs, {fires} schedule fires, {processes} dead processes"
    ctx.log.info(ctx.summary)


@job("system.reconcile_runs", title="Reconcile lost runs", connector="system", system=True,
     cron="* * * * *", description="Fail runs whose runner stopped heartbeating and free their locks.")
def reconcile_runs_job(ctx):
    failed = reconcile_runs()
    ctx.count(updated=len(failed))
    ctx.summary = f"Marked {len(failed)} lost runs failed" if failed else "No lost runs"
    for run_id in failed:
        ctx.log.warning("run=%s marked failed: runner lost", run_id)


@job("system.check_freshness", title="Check data freshness", connector="system", system=True,
     cron="*/10 * * * *", description="Notify when a connector's data is older than its stale limit.")
def check_freshness(ctx):
    stale = stale_jobs()
    deliveries = 0
    for item in stale:
        ctx.log.warning("job=%s data is stale: last success %s, limit %s min",
                        item.job_id, item.last_success or "never", item.limit_minutes)
        deliveries += notify_stale(item)
    ctx.summary = f"{len(stale)} stale, {deliveries} notification(s) sent" if stale else "All data fresh"
