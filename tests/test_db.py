"""The database layer: a bare postgresql:// URL works wherever a database URL is configured, and SQLite
transactions begin in the mode their work needs."""
import pytest
from sqlalchemy import text

from app import create_app
from app.db import installed_driver
from app.extensions import db
from config import TestConfig
from tests.conftest import PG_URL, is_postgres, requires_postgres


def test_a_bare_postgresql_url_names_the_installed_driver():
    assert installed_driver("postgresql://u@h/db").drivername == "postgresql+psycopg2"
    # Anything naming its own driver, or another database, is left as it is.
    for url in ("postgresql+psycopg2://u:p@h:5432/db", "sqlite:///x.db", "oracle+oracledb://u:p@h:1521/?service_name=CCB"):
        assert installed_driver(url).render_as_string(hide_password=False) == url


@requires_postgres
def test_the_app_runs_on_a_bare_postgresql_database_url():
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = PG_URL.replace("postgresql+psycopg2://", "postgresql://", 1)

    app = create_app(Config)
    with app.app_context():
        assert db.engine.dialect.driver == "psycopg2"
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        db.engine.dispose()


@pytest.mark.skipif(is_postgres(), reason="SQLite's BEGIN modes; PostgreSQL has none to choose")
def test_a_page_view_that_writes_takes_the_write_lock_first_on_sqlite(app):
    from sqlalchemy import event

    from app.db import begin_write
    begins = []
    with app.test_request_context("/crm/explorer", method="GET"):
        listener = lambda conn, cursor, statement, *rest: begins.append(statement)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            db.session.execute(text("SELECT 1"))  # a page view reads without waiting for a writer
            db.session.rollback()
            begin_write()  # its audit entry must not read first and then fail to write
            db.session.execute(text("SELECT 1"))
            db.session.rollback()
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
    assert [s for s in begins if s.startswith("BEGIN")] == ["BEGIN DEFERRED", "BEGIN IMMEDIATE"]
