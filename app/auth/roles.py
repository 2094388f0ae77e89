"""The built-in roles, created when missing."""
from sqlalchemy import select

from ..extensions import db
from .models import Role

DEFAULT_ROLES = {
    "admin": ("Everything", ""),
    "operator": ("Runs jobs, refreshes data, cancels runs", "trigger_runs"),
    "scheduler": ("Operator who also manages schedules", "trigger_runs manage_schedules"),
    "viewer": ("Looks only", ""),
}


def ensure_default_roles():
    existing = set(db.session.scalars(select(Role.name)))
    for name, (description, permissions) in DEFAULT_ROLES.items():
        if name not in existing:
            db.session.add(Role(name=name, description=description, permissions=permissions))
    db.session.flush()
