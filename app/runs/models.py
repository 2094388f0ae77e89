"""Runs, their log lines, lock rows, schedules and the processes that execute them."""
from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import utcnow
from ..extensions import db

ACTIVE = ("queued", "running")
TERMINAL = ("succeeded", "failed", "cancelled")
STATUSES = ACTIVE + TERMINAL
TRIGGERS = ("schedule", "manual", "refresh", "login", "cli", "dependency", "system")

# BigInteger ids on PostgreSQL, but SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer, "sqlite")


class Run(db.Model):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(100))
    # Canonical JSON of params: the identity used for "already in flight".
    params_key: Mapped[str] = mapped_column(Text, default="{}")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    lock_key: Mapped[str] = mapped_column(String(100))
    trigger: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[str] = mapped_column(String(64), default="")
    schedule_id: Mapped[Optional[int]] = mapped_column(ForeignKey("schedules.id", ondelete="SET NULL"))
    parent_run_id: Mapped[Optional[int]] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    reason: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    cancel_requested_by: Mapped[Optional[str]] = mapped_column(String(64))
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[Optional[datetime]]
    finished_at: Mapped[Optional[datetime]]
    heartbeat_at: Mapped[Optional[datetime]]
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[Optional[int]] = mapped_column(BigInteger)
    progress_message: Mapped[str] = mapped_column(Text, default="")
    rows_fetched: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_updated: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_deleted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_failed: Mapped[int] = mapped_column(BigInteger, default=0)
    # The job's own counters (declared with @job(counters=...)), by name.
    counters: Mapped[dict] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    lock_waits: Mapped[int] = mapped_column(default=0)
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[Optional[int]]

    __table_args__ = (
        # At most one queued-or-running run per job and params, enforced by the database.
        Index(
            "uq_runs_in_flight", "job_id", "params_key", unique=True,
            postgresql_where=text("status IN ('queued', 'running')"),
            sqlite_where=text("status IN ('queued', 'running')"),
        ),
        Index("ix_runs_status_id", "status", "id"),
        Index("ix_runs_job_queued", "job_id", "queued_at"),
        Index("ix_runs_finished_at", "finished_at"),
        Index("ix_runs_started_at", "started_at"),
    )

    COUNTERS = ("rows_fetched", "rows_inserted", "rows_updated", "rows_deleted", "rows_failed")

    @property
    def is_active(self):
        return self.status in ACTIVE

    @property
    def duration(self):
        if not self.started_at:
            return None
        return ((self.finished_at or utcnow()) - self.started_at).total_seconds()

    def counter_items(self):
        """(name, value) of every counter: the standard five, then the job's own."""
        standard = [(name.removeprefix("rows_"), getattr(self, name) or 0) for name in self.COUNTERS]
        return standard + sorted((self.counters or {}).items())

    @property
    def rows_synced(self):
        return self.rows_inserted + self.rows_updated + self.rows_deleted


class RunLog(db.Model):
    __tablename__ = "run_logs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column()
    at: Mapped[datetime] = mapped_column(default=utcnow)
    level: Mapped[str] = mapped_column(String(10), default="INFO")
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("uq_run_logs_run_seq", "run_id", "seq", unique=True),
        Index("ix_run_logs_at", "at"),
    )


class RunLock(db.Model):
    """One row per lock key; held while run_id is set and its heartbeat is fresh."""

    __tablename__ = "run_locks"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    run_id: Mapped[Optional[int]] = mapped_column(BigId)
    owner: Mapped[str] = mapped_column(String(255), default="")
    acquired_at: Mapped[Optional[datetime]]
    heartbeat_at: Mapped[Optional[datetime]]


class Schedule(db.Model):
    __tablename__ = "schedules"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    cron: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="")  # "" = business timezone
    enabled: Mapped[bool] = mapped_column(default=True)
    # System schedules come from a job's default cron and cannot be deleted.
    system: Mapped[bool] = mapped_column(default=False)
    # "system:<job id>" for a system schedule, so processes starting together create it once.
    key: Mapped[Optional[str]] = mapped_column(String(120), unique=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped on every change so each process's scheduler sees it cheaply.
    version: Mapped[int] = mapped_column(default=1)


class ScheduleFire(db.Model):
    """One row per (schedule, fire time): the database, not the scheduler, prevents double fires."""

    __tablename__ = "schedule_fires"
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True)
    fire_time: Mapped[datetime] = mapped_column(primary_key=True)
    run_id: Mapped[Optional[int]] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    host: Mapped[str] = mapped_column(String(255), default="")


class WorkerProcess(db.Model):
    """A process running the scheduler and/or executor, with its heartbeat (for /healthz)."""

    __tablename__ = "worker_processes"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # host:pid:start
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column()
    scheduler: Mapped[bool] = mapped_column(default=False)
    executor: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
