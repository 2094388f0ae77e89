"""/healthz for load balancers and /metrics for Prometheus."""
import hmac
from datetime import datetime, timedelta

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select, text

from ..db import utcnow
from ..extensions import db
from ..runs import history
from ..runs.models import Run, WorkerProcess
from ..runs.registry import all_jobs

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """Database reachable, a scheduler alive, an executor beating: 200 if all, else 503."""
    checks = {"database": False, "scheduler": False, "executor": False}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = True
        fresh = utcnow() - timedelta(seconds=max(3 * current_app.config["HEARTBEAT_SECONDS"], 10))
        alive = db.session.execute(
            select(func.max(func.cast(WorkerProcess.scheduler, db.Integer)),
                   func.max(func.cast(WorkerProcess.executor, db.Integer)))
            .where(WorkerProcess.heartbeat_at >= fresh)).one()
        checks["scheduler"], checks["executor"] = bool(alive[0]), bool(alive[1])
    except Exception as exc:  # an unreachable database is exactly what this endpoint reports
        current_app.logger.warning("healthz database check failed: %s", exc)
        db.session.rollback()
    healthy = all(checks.values())
    return jsonify(status="ok" if healthy else "unhealthy", checks=checks), 200 if healthy else 503


def _metrics_allowed():
    if current_user.is_authenticated:
        return True
    token = current_app.config.get("METRICS_TOKEN")
    supplied = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode())


@bp.get("/metrics")
def metrics():
    if not _metrics_allowed():
        return jsonify(error="Login or bearer token required", status=401), 401
    registry = CollectorRegistry()
    registry.register(RunsCollector())
    return generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}


class RunsCollector:
    """Reads the runs table at scrape time, so every process reports the same numbers."""

    def collect(self):
        by_status = GaugeMetricFamily("syncdeck_runs", "Runs kept in the database, by job and status",
                                      labels=["job", "status"])
        for job_id, status, count in db.session.execute(
                select(Run.job_id, Run.status, func.count()).group_by(Run.job_id, Run.status)):
            by_status.add_metric([job_id, status], count)
        yield by_status

        duration = GaugeMetricFamily("syncdeck_run_last_duration_seconds", "Duration of the last finished run",
                                     labels=["job"])
        last_success = GaugeMetricFamily("syncdeck_last_success_timestamp_seconds",
                                         "Unix time of the last successful run", labels=["job"])
        rows = CounterMetricFamily("syncdeck_rows_synced", "Rows inserted, updated or deleted by kept runs",
                                   labels=["job"])
        waits = CounterMetricFamily("syncdeck_lock_waits", "Times a queued run found its lock held",
                                    labels=["job"])
        ids = [job_def.id for job_def in all_jobs()]
        for job_id, last in history.last_finished(ids).items():
            if last.duration is not None:
                duration.add_metric([job_id], last.duration)
        for job_id, success_at in history.last_success_times(ids).items():
            last_success.add_metric([job_id], (success_at - _EPOCH).total_seconds())
        totals = db.session.execute(select(
            Run.job_id, func.coalesce(func.sum(Run.rows_inserted + Run.rows_updated + Run.rows_deleted), 0),
            func.coalesce(func.sum(Run.lock_waits), 0)).where(Run.job_id.in_(ids)).group_by(Run.job_id)).all()
        for job_id, synced, lock_waits in totals:
            rows.add_metric([job_id], int(synced))
            waits.add_metric([job_id], int(lock_waits))
        yield from (duration, last_success, rows, waits)


_EPOCH = datetime(1970, 1, 1)
