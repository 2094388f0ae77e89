"""A job parameter that is a file: uploaded with Run now or the API, stored once, read by the run."""
import hashlib
import io

from sqlalchemy import func, select

from app.connectors.base.upload_models import Upload
from app.extensions import db
from app.runs.models import Run
from tests.runs.helpers import wait_status

STATEMENT = b"date;amount;reference\n2026-12-01;120,50;INV-1001\n" * 50


def uploads(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Upload))


def test_run_now_stores_the_file_once_and_the_run_reads_it(app, admin, executor):
    digest = hashlib.sha256(STATEMENT).hexdigest()
    for _ in range(2):
        response = admin.post("/jobs/tests.upload_size/run", content_type="multipart/form-data",
                              data={"param_statement": (io.BytesIO(STATEMENT), "statement.csv")})
        assert response.status_code == 303, response.get_data(as_text=True)
        with app.app_context():
            run_id = db.session.scalar(select(func.max(Run.id)))
        run = wait_status(app, run_id, "succeeded", "failed")
        assert run.status == "succeeded", run.reason
        assert run.params == {"statement": digest} and run.rows_fetched == len(STATEMENT)
    assert uploads(app) == 1


def test_the_api_takes_the_file_as_multipart(app, admin, executor):
    response = admin.post("/api/jobs/tests.upload_size/run", content_type="multipart/form-data",
                          data={"statement": (io.BytesIO(b"x" * 10), "s.csv")},
                          headers={"Accept": "application/json"})
    assert response.status_code == 202, response.get_data(as_text=True)
    run = wait_status(app, response.get_json()["run"]["id"], "succeeded", "failed")
    assert run.rows_fetched == 10


def test_a_file_over_the_limit_is_refused_and_nothing_is_queued(app, admin):
    app.config["UPLOAD_MAX_BYTES"] = 100
    response = admin.post("/api/jobs/tests.upload_size/run", content_type="multipart/form-data",
                          data={"statement": (io.BytesIO(b"x" * 101), "big.csv")},
                          headers={"Accept": "application/json"})
    assert response.status_code == 400 and "100" in response.get_json()["error"]
    assert uploads(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Run)) == 0


def test_a_missing_or_malformed_file_reference_is_a_400(app, admin):
    response = admin.post("/api/jobs/tests.upload_size/run", json={"params": {"statement": "not-a-hash"}})
    assert response.status_code == 400 and "statement" in response.get_json()["error"]
    response = admin.post("/api/jobs/tests.upload_size/run", json={"params": {}})
    assert response.status_code == 400 and "required" in response.get_json()["error"]
