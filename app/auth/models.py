"""Users, roles with their permissions, and the activity log."""
from datetime import datetime
from typing import Optional

from flask_login import UserMixin
from sqlalchemy import Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..db import utcnow
from ..extensions import db

PERMISSIONS = {
    "trigger_runs": "Run jobs now, refresh data, cancel runs",
    "manage_schedules": "Create, edit, enable and delete schedules",
    "edit_connections": "Edit credentials, companies, mappings and deals",
    "post_payments": "Post payments (banking)",
    "manage_users": "Create, disable and edit users and roles",
    "manage_settings": "Change settings",
}

user_roles = Table(
    "user_roles",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


class Role(db.Model):
    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    # Space-separated permission names; "admin" grants every permission.
    permissions: Mapped[str] = mapped_column(Text, default="")

    @property
    def permission_set(self):
        return set(self.permissions.split())

    def grants(self, permission):
        return self.name == "admin" or permission in self.permission_set


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[Optional[datetime]]
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")

    @property
    def is_active(self):
        return self.active

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    def can(self, permission):
        return any(role.grants(permission) for role in self.roles)

    @property
    def is_admin(self):
        return any(role.name == "admin" for role in self.roles)


class Activity(db.Model):
    """Who did what and when; written in the same transaction as the change it records."""

    __tablename__ = "activity"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(64), default="", index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (Index("ix_activity_action_at", "action", "at"),)
