"""What the CRM bridge keeps in OUR database (never in the customer's tables): value mappings, deal
triggers, minimum ids per source table and the de-duplication verdicts. Which record is synced
where is the shared push ledger (base/push_models.py, connector "crm")."""
from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ...db import utcnow
from ...extensions import db


class CrmMapping(db.Model):
    """One source value of a mapping type (e.g. gender 2) and the CRM id it becomes ('' = not mapped)."""

    __tablename__ = "crm_mappings"
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_value: Mapped[str] = mapped_column(String(100), primary_key=True)
    target_value: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class CrmDealTrigger(db.Model):
    """A source service whose presence on a synced invoice creates a deal in this funnel and level."""

    __tablename__ = "crm_deal_triggers"
    service_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    funnel_id: Mapped[int] = mapped_column(Integer)
    funnel_level_id: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class CrmMinimumId(db.Model):
    """The sync start point of a source table: rows with a lower IDD are never read."""

    __tablename__ = "crm_minimum_ids"
    table_name: Mapped[str] = mapped_column(String(40), primary_key=True)
    min_id: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class CrmDuplicate(db.Model):
    """A person the de-duplication job set aside: its records go to the winner's contact instead."""

    __tablename__ = "crm_duplicates"
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    winner_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(400))
    found_at: Mapped[datetime] = mapped_column(default=utcnow)
