"""The watched folder: statement files dropped into BANKING_INBOX are imported like uploads.

A file in the inbox itself must name its account (MT940, CAMT.053, OFX do); a file in a sub-folder
named after an account key (e.g. inbox/main/export.csv) is imported for that account, which a CSV
needs. After its import a file moves to `imported/` or, refused, to `rejected/` beside a
`<name>.reason.txt` saying why; nothing is left to be imported twice, and nothing is deleted.
"""
import io
import os
import shutil
from pathlib import Path

from werkzeug.datastructures import FileStorage

from ...extensions import db
from ..base.upload import UploadError, store_upload
from .importer import ImportRejected, import_statement

DONE, REFUSED = "imported", "rejected"


def waiting_files(inbox: Path):
    """(path, account key) of every file waiting in the inbox, oldest first."""
    found = []
    for entry in inbox.iterdir():
        if entry.is_file() and not entry.name.startswith("."):
            found.append((entry, ""))
        elif entry.is_dir() and entry.name not in (DONE, REFUSED) and not entry.name.startswith("."):
            found += [(f, entry.name) for f in entry.iterdir() if f.is_file() and not f.name.startswith(".")]
    return sorted(found, key=lambda item: item[0].stat().st_mtime)


def scan(inbox, username, run_id, log):
    """Import every waiting file; returns (imported, rejected)."""
    inbox = Path(inbox)
    if not inbox.is_dir():
        raise FileNotFoundError(f"BANKING_INBOX {inbox} is not a folder")
    imported = rejected = 0
    for path, account in waiting_files(inbox):
        try:
            upload = store_upload(FileStorage(io.BytesIO(path.read_bytes()), filename=path.name), username)
            db.session.commit()
            record = import_statement(upload.sha256, account, username=username, run_id=run_id)
        except (ImportRejected, UploadError) as exc:
            db.session.rollback()
            _move(inbox, path, REFUSED, reason=str(exc))
            log.warning("%s: rejected: %s", path.name, exc)
            rejected += 1
            continue
        _move(inbox, path, DONE)
        log.info("%s: %s new, %s duplicate", path.name, record.lines_new, record.lines_duplicate)
        imported += 1
    return imported, rejected


def _move(inbox, path, folder, reason=None):
    target_dir = inbox / folder
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    n = 1
    while target.exists():  # the same name dropped again later: keep both
        target = target_dir / f"{path.stem}.{n}{path.suffix}"
        n += 1
    shutil.move(os.fspath(path), os.fspath(target))
    if reason is not None:
        target.with_name(target.name + ".reason.txt").write_text(reason + "\n")
