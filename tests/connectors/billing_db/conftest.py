"""Fixtures for the Billing DB connector: a seeded fake CC&B database and the app pointed at it."""
import os
from datetime import date

import pytest
from sqlalchemy import create_engine, make_url, select, text

from app.connectors.billing_db.models import BillStopBatch
from app.db import installed_driver
from app.extensions import db
from app.fakes.billing import create_and_seed
from tests.conftest import PG_URL
from tests.runs.helpers import run_job

SMALL = {"crps": 15, "cpcs": 1500, "seed": 7}


def source_url(tmp_dir, suffix="_ccb"):
    """A fake-source URL: a PostgreSQL database beside the test database when the suite runs on
    PostgreSQL (named with `suffix`, created if missing), else a SQLite file in tmp_dir."""
    if not PG_URL:
        return f"sqlite:///{tmp_dir}/ccb.db"
    url = make_url(PG_URL).set(database=make_url(PG_URL).database + suffix)
    admin = create_engine(make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}):
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def ccb_source(tmp_path_factory):
    """The fake CC&B, seeded once per session for today (the batch's window is this month)."""
    url = source_url(tmp_path_factory.mktemp("ccb"))
    summary = create_and_seed(url, today=date.today(), **SMALL)
    return url, summary


@pytest.fixture
def billing(app, ccb_source):
    app.config.update(BILLING_DB_URL=ccb_source[0], BILLING_CHUNK_ROWS=200)
    return ccb_source[0]


def ran_batch(app):
    """Run the batch to completion and return its log row (detached)."""
    run = run_job(app, "billing.bill_stop_batch")
    assert run.status == "succeeded", run.reason
    with app.app_context():
        batch = db.session.scalars(select(BillStopBatch).where(BillStopBatch.run_id == run.id)).one()
        db.session.expunge(batch)
    return batch


def source_engine(url):
    return create_engine(installed_driver(url))


mariadb_url = os.environ.get("BILLING_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
