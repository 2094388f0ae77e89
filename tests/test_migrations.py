"""The Alembic tree builds the schema the models describe (no drift), on SQLite and PostgreSQL,
and its data-moving steps keep every row both ways."""
import os

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, make_url, text

from app import create_app
from app.db import partition_tables, skip_partitions
from app.extensions import db
from config import TestConfig
from tests.conftest import PG_URL, is_postgres

MIGRATIONS = os.path.join(os.path.dirname(__file__), "..", "migrations")


def test_models_and_migrations_do_not_drift(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": skip_partitions(conn)})
        diff = compare_metadata(context, db.metadata)
    # Tables created by the tests themselves are not part of the app's metadata.
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name == "test_items")]
    assert diff == [], f"models and migrations differ; run `flask db migrate`: {diff}"


def _scratch_url(tmp_path):
    """An empty database of the suite's kind: a PostgreSQL database beside the test one, or a SQLite file."""
    if not is_postgres():
        return f"sqlite:///{tmp_path}/migrations.db"
    url = make_url(PG_URL).set(database=make_url(PG_URL).database + "_migrations")
    admin = create_engine(make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    return url.render_as_string(hide_password=False)


def _details(conn):
    return conn.execute(text("SELECT batch_id, cpc_customer_no, is_bill_stop FROM billing_bill_stop_details "
                             "ORDER BY 1, 2")).all()


def test_bill_stop_details_survive_partitioning_and_its_undoing(tmp_path):
    """0004 moves every detail row into a partition per batch (PostgreSQL) and back when downgraded."""
    url = _scratch_url(tmp_path)

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url
    app = create_app(Config)
    with app.app_context():
        upgrade(MIGRATIONS, revision="a4250503b418")
        with db.engine.begin() as conn:
            for batch_id in (1, 2):
                conn.execute(text("INSERT INTO billing_bill_stop_details VALUES "
                                  "(:b, :cpc, 'CRP1', NULL, 'A', NULL, NULL, 'Bill Stop', :stop, 1.50)"),
                             [{"b": batch_id, "cpc": f"C{batch_id}{n}", "stop": n % 2 == 0} for n in range(3)])
            before = _details(conn)
        upgrade(MIGRATIONS)
        with db.engine.connect() as conn:
            assert _details(conn) == before
            assert partition_tables(conn) == ({"billing_bill_stop_details_1", "billing_bill_stop_details_2"}
                                              if is_postgres() else set())
        downgrade(MIGRATIONS, revision="a4250503b418")
        with db.engine.connect() as conn:
            assert _details(conn) == before
            assert partition_tables(conn) == set()
        upgrade(MIGRATIONS)
        db.engine.dispose()
