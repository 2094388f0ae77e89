"""The upload shape: stored once by content hash, size-limited, read back exactly by a job in any process."""
import hashlib
import io
import subprocess
import sys

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from app.auth.models import Activity
from app.connectors.base.upload import (UploadError, display_filename, get_upload, open_upload, store_upload,
                                        validate_upload_ref)
from app.connectors.base.upload_models import Upload
from app.extensions import db
from app.runs.registry import Param, job
from tests.conftest import database_url, requires_postgres
from tests.runs.helpers import run_job
from tests.runs.procs import ROOT, engine_env

STATEMENT = b"date,amount,reference\n2026-12-01,150.00,INV-1001\n2026-12-02,-20.50,FEE\n" * 50


@job("tests.read_upload", connector="tests", params=(Param("f", "file"),))
def read_upload(ctx):
    """Reads an uploaded file back and reports its hash and size."""
    data = open_upload(ctx.params["f"]).read()
    ctx.count(fetched=len(data))
    ctx.summary = f"sha256={hashlib.sha256(data).hexdigest()} size={len(data)}"


def upload_file(content, filename="statement.csv", content_type="text/csv"):
    return FileStorage(stream=io.BytesIO(content), filename=filename, content_type=content_type)


def store(app, content, filename="statement.csv", **kwargs):
    """Store and commit, as the upload route does; return the sha256."""
    with app.app_context():
        upload = store_upload(upload_file(content, filename), "alice", **kwargs)
        db.session.commit()
        return upload.sha256


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


class CountingStream(io.BytesIO):
    """A stream that remembers how much was read from it."""

    def __init__(self, content):
        super().__init__(content)
        self.read_bytes = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.read_bytes += len(chunk)
        return chunk


def test_the_same_content_twice_is_stored_once(app):
    first = store(app, STATEMENT, "march.csv")
    second = store(app, STATEMENT, "march (1).csv")
    assert first == second == hashlib.sha256(STATEMENT).hexdigest()
    assert count(app, Upload) == 1
    with app.app_context():
        upload = get_upload(first)
        assert (upload.filename, upload.size, upload.content_type, upload.uploaded_by) == \
            ("march.csv", len(STATEMENT), "text/csv", "alice")
        assert "150.00" not in repr(upload)
        stored = db.session.scalars(select(Activity).where(Activity.action == "upload_stored")).all()
        assert len(stored) == 1 and first in stored[0].detail


def test_a_file_over_the_limit_is_refused_unread_and_unstored(app):
    stream = CountingStream(b"x" * (1024 * 1024))
    with app.app_context():
        with pytest.raises(UploadError, match="larger than the 128,000 bytes limit") as raised:
            store_upload(FileStorage(stream=stream, filename="big.csv"), "alice", max_bytes=128_000)
        db.session.commit()
    assert raised.value.status == 413
    assert stream.read_bytes < 128_000 + 64 * 1024  # stopped at the chunk that crossed the limit
    assert count(app, Upload) == 0 and count(app, Activity) == 0


def test_the_limit_comes_from_upload_max_bytes(app):
    app.config["UPLOAD_MAX_BYTES"] = 100
    with pytest.raises(UploadError, match="UPLOAD_MAX_BYTES"):
        store(app, b"y" * 101)
    assert store(app, b"y" * 100)


def test_an_empty_file_is_refused(app):
    with pytest.raises(UploadError, match="empty") as raised:
        store(app, b"", "blank.csv")
    assert raised.value.status == 400 and "blank.csv" in str(raised.value)
    assert count(app, Upload) == 0


def test_filenames_are_reduced_to_a_display_safe_base_name():
    assert display_filename("C:\\Users\\bob\\Desktop\\März 2026.csv") == "März 2026.csv"
    assert display_filename("../../etc/passwd") == "passwd"
    assert display_filename("evil\x00\r\nname.ofx") == "evilname.ofx"
    assert display_filename("") == display_filename("..") == "upload"
    assert len(display_filename("a" * 1000)) == 255


def test_unknown_and_malformed_references_are_clear_errors(app):
    sha = store(app, STATEMENT)
    unknown = "0" * 64
    with app.app_context():
        assert validate_upload_ref(f"  {sha.upper()} ") == sha
        with pytest.raises(ValueError, match="upload the file again"):
            validate_upload_ref(unknown)
        with pytest.raises(ValueError, match="64 hexadecimal"):
            validate_upload_ref("statement.csv")
        with pytest.raises(UploadError, match="upload the file again"):
            open_upload(unknown)
        with pytest.raises(UploadError, match="upload the file again"):
            get_upload(unknown)


def test_a_job_run_by_the_executor_reads_the_bytes_back_exactly(app, executor):
    content = bytes(range(256)) * 300 + b"\r\n\x00end"  # binary, not only text
    sha = store(app, content, "statement.mt940")
    run = run_job(app, "tests.read_upload", {"f": sha})
    assert run.status == "succeeded", run.reason
    assert run.summary == f"sha256={sha} size={len(content)}"
    assert run.rows_fetched == len(content)


def test_a_job_given_an_unknown_upload_fails_with_the_reason(app, executor):
    run = run_job(app, "tests.read_upload", {"f": "f" * 64})
    assert run.status == "failed" and "upload the file again" in run.reason


@requires_postgres
def test_another_process_reads_the_same_bytes(app, tmp_path):
    content = STATEMENT + bytes(range(256))
    sha = store(app, content)
    out = tmp_path / "read.bin"
    done = subprocess.run([sys.executable, "-m", "tests.connectors.base.test_upload", database_url(), sha, str(out)],
                          cwd=ROOT, env=engine_env(database_url()), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert out.read_bytes() == content


def _read_in_child(url, sha, out_path):
    """In a separate process: build the app on `url` and copy the upload's bytes to out_path."""
    from app import create_app
    from config import TestConfig

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url
    with create_app(Config).app_context():
        with open(out_path, "wb") as out:
            out.write(open_upload(sha).read())


if __name__ == "__main__":
    _read_in_child(*sys.argv[1:4])
