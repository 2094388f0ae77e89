"""The push ledger: one row per source record a push connector sends, and a cursor per stream."""
from datetime import datetime
from typing import Optional

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ...db import utcnow
from ...extensions import db
from ...runs.models import BigId

STATUSES = ("pending", "synced", "failed", "skipped", "ignored")


class SyncRecord(db.Model):
    """Where one source record stands at the target: sent as which version, with what outcome."""

    __tablename__ = "sync_records"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector: Mapped[str] = mapped_column(String(50))
    stream: Mapped[str] = mapped_column(String(50))
    source_key: Mapped[str] = mapped_column(String(200))
    # A hash of the record's content as last sent: a changed record is sent again, an unchanged one not.
    version: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    target_id: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Written before the call: after a crash the record is looked up at the target by it, not sent twice.
    client_key: Mapped[str] = mapped_column(String(64), default="")
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[Optional[datetime]]
    synced_at: Mapped[Optional[datetime]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("uq_sync_records_key", "connector", "stream", "source_key", unique=True),
        Index("ix_sync_records_status", "connector", "stream", "status"),
    )


class SyncCursor(db.Model):
    """How far a stream has read its source (inclusive: the boundary record is read again, harmlessly)."""

    __tablename__ = "sync_cursors"
    connector: Mapped[str] = mapped_column(String(50), primary_key=True)
    stream: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
