"""Files uploaded as job parameters, stored once by content hash in the database."""
from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ...db import utcnow
from ...extensions import db

# BigInteger ids on PostgreSQL, but SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer, "sqlite")


class Upload(db.Model):
    __tablename__ = "uploads"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Hex SHA-256 of the content: the identity a job parameter carries.
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # As the browser sent it, reduced to a display-safe base name (never used as a path).
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    # In the database, not on a disk, so a worker on any host can read it; loaded only when asked for.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self):
        return f"<Upload {self.sha256[:12]} {self.filename!r} {self.size} bytes>"
