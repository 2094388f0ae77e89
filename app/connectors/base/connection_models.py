"""A connector's declared connection form (ConnectionSpec, Field) and the stored connections."""
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ...db import utcnow
from ...extensions import db

BigId = BigInteger().with_variant(Integer, "sqlite")

FIELD_TYPES = ("str", "int", "float", "bool", "url")
# Names the form itself uses; a field may not take them.
RESERVED_NAMES = ("key", "display_name", "csrf_token", "active", "q")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class Field:
    """One input of a connection's form: a credential (secret or not) or a per-connection setting."""

    name: str
    label: str
    secret: bool = False
    required: bool = False
    # Settings only: the value a new connection starts with (and an old one reads when it lacks it).
    default: object = None
    type: str = "str"
    help: str = ""
    choices: tuple = ()

    def __post_init__(self):
        if not _NAME.fullmatch(self.name) or self.name in RESERVED_NAMES or self.name.endswith("__clear"):
            raise ValueError(f"connection field name {self.name!r} must be a lower-case identifier, "
                             f"not one of {RESERVED_NAMES}")
        if self.type not in FIELD_TYPES:
            raise ValueError(f"connection field {self.name!r}: type must be one of {FIELD_TYPES}")
        if self.secret and (self.type != "str" or self.default is not None):
            raise ValueError(f"connection field {self.name!r}: a secret is a string without a default")


@dataclass(frozen=True)
class ConnectionSpec:
    """What a connector's connections hold: credential fields, settings with defaults, one or many."""

    fields: tuple = ()
    settings: tuple = ()
    # Many connections per connector (one per company), each with its own key and display name.
    multiple: bool = False
    key_label: str = "Key"
    help: str = ""

    def __post_init__(self):
        names = [f.name for f in self.all_fields]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"connection fields declared twice: {duplicated}")
        if any(f.secret for f in self.settings):
            raise ValueError("settings are not secret; declare secrets in `fields`")

    @property
    def all_fields(self):
        return tuple(self.fields) + tuple(self.settings)

    @property
    def secret_fields(self):
        return tuple(f for f in self.fields if f.secret)

    @property
    def plain_fields(self):
        """Non-secret fields and settings: stored as JSON in `settings`."""
        return tuple(f for f in self.all_fields if not f.secret)

    def defaults(self):
        """The plain values a new connection starts with."""
        return {f.name: f.default for f in self.plain_fields if f.default is not None}


class Connection(db.Model):
    __tablename__ = "connections"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector: Mapped[str] = mapped_column(String(50))
    key: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A Fernet token of the JSON of every secret field and token ("" for none); see base/secrets.py.
    secrets: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    # Bumped by every change (form, toggle, token rotation): shows a page is out of date.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (UniqueConstraint("connector", "key"),)

    @property
    def label(self):
        """connector/key: how pages, logs and the activity log name it."""
        return f"{self.connector}/{self.key}"

    def __repr__(self):
        # Never the secrets, not even their token.
        return f"<Connection {self.label} v{self.version} {'active' if self.active else 'inactive'}>"
