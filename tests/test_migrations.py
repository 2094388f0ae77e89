"""The Alembic tree builds the schema the models describe (no drift), on SQLite and PostgreSQL."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db


def test_models_and_migrations_do_not_drift(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    # Tables created by the tests themselves are not part of the app's metadata.
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name == "test_items")]
    assert diff == [], f"models and migrations differ; run `flask db migrate`: {diff}"
