"""The upload shape: a file given as a job parameter, stored once by content hash in the database.

A route stores the browser's file with store_upload() and queues the run with the upload's
sha256 as the parameter's value (`Param("statement", "file")`). The job, in whichever process
or host claims the run, reads the bytes back with open_upload(sha256).
"""
import hashlib
import io
import logging
import re
import unicodedata

from flask import current_app
from sqlalchemy import select

from ...auth import activity
from ...db import insert_ignore, read_only
from ...extensions import db
from .upload_models import Upload

log = logging.getLogger("syncdeck.upload")

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
CHUNK_BYTES = 64 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


class UploadError(Exception):
    """An upload is unacceptable or unknown; the message tells the operator what to do.

    `status` is the HTTP status a route should answer with (413 when too large, else 400).
    """

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def max_upload_bytes():
    """The configured size limit of one uploaded file, in bytes."""
    return int(current_app.config.get("UPLOAD_MAX_BYTES") or DEFAULT_MAX_BYTES)


def store_upload(file_storage, username, max_bytes=None) -> Upload:
    """Store a werkzeug FileStorage once by its SHA-256 and return its row (the caller commits)."""
    limit = max_bytes or max_upload_bytes()
    filename = display_filename(getattr(file_storage, "filename", "") or "")
    content, digest = _read_limited(file_storage.stream, limit, filename)
    existing = _find(digest)
    if existing is not None:
        return existing
    content_type = (file_storage.mimetype or "application/octet-stream")[:255]
    values = {"sha256": digest, "filename": filename, "size": len(content), "content_type": content_type,
              "content": content, "uploaded_by": (username or "")[:64]}
    # Two people uploading the same statement at once: the second insert is skipped, not an error.
    inserted = db.session.execute(insert_ignore(Upload.__table__).values(**values)).rowcount
    upload = _find(digest)
    if inserted:
        activity.record("upload_stored", target=f"upload/{digest[:12]}",
                        detail=f"{filename} ({len(content):,} bytes, sha256 {digest})", username=username)
        log.info("upload stored sha256=%s size=%s by=%s", digest, len(content), username)
    return upload


def _read_limited(stream, limit, filename):
    """Read the whole stream in chunks, stopping as soon as it passes `limit`; return (bytes, hex sha256)."""
    hasher, buffer = hashlib.sha256(), io.BytesIO()
    while True:
        chunk = stream.read(CHUNK_BYTES)
        if not chunk:
            break
        if buffer.tell() + len(chunk) > limit:
            raise UploadError(f"{filename} is larger than the {_size_text(limit)} limit for an upload; "
                              "split the file or ask an admin to raise UPLOAD_MAX_BYTES.", status=413)
        hasher.update(chunk)
        buffer.write(chunk)
    if not buffer.tell():
        raise UploadError(f"{filename} is empty; choose the file again (it may not have finished downloading).")
    return buffer.getvalue(), hasher.hexdigest()


def _size_text(size):
    return f"{size / (1024 * 1024):g} MB" if size >= 1024 * 1024 else f"{size:,} bytes"


def display_filename(raw):
    """The base name of a browser-given filename with control characters removed (for display only)."""
    name = re.split(r"[/\\]", str(raw))[-1]
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = " ".join(name.split()).strip(" .")
    return name[:255] or "upload"


def _find(digest):
    return db.session.scalars(select(Upload).where(Upload.sha256 == digest)).first()


def get_upload(sha256) -> Upload:
    """The stored upload with this hash (its content is loaded only when read); UploadError if unknown."""
    upload = _find(_normalise(sha256))
    if upload is None:
        raise UploadError(_unknown_message(sha256))
    return upload


def open_upload(sha256):
    """A binary file-like object over a committed upload's bytes; UploadError if the hash is unknown.

    It reads on its own short connection, so a job holds no transaction (nor SQLite's write lock) open
    while it parses the file.
    """
    digest = _normalise(sha256)
    with db.engine.connect() as conn:
        content = read_only(conn).scalar(select(Upload.content).where(Upload.sha256 == digest))
    if content is None:
        raise UploadError(_unknown_message(sha256))
    return io.BytesIO(content)


def validate_upload_ref(value) -> str:
    """The normalised sha256 of a stored upload (a `file` Param's converter); ValueError otherwise."""
    text = str(value).strip().lower()
    if not _SHA256.fullmatch(text):
        raise ValueError(f"{str(value)[:80]!r} is not an uploaded file's reference (64 hexadecimal characters)")
    if db.session.scalar(select(Upload.id).where(Upload.sha256 == text)) is None:
        raise ValueError(_unknown_message(text))
    return text


def _normalise(sha256):
    text = str(sha256 or "").strip().lower()
    if not _SHA256.fullmatch(text):
        raise UploadError(f"{str(sha256)[:80]!r} is not an uploaded file's reference (64 hexadecimal characters).")
    return text


def _unknown_message(sha256):
    return f"No uploaded file with sha256 {str(sha256)[:64]}; upload the file again."
