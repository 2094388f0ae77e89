"""insert_missing: only rows whose key is not stored go in, by COPY on PostgreSQL, never half."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import JSON, Column, Date, Integer, MetaData, Numeric, String, Table, select

from app.connectors.base import loading
from app.connectors.base.loading import insert_missing
from app.extensions import db
from tests.conftest import requires_postgres

COLUMNS = ("key", "day", "amount", "note", "tags")


@pytest.fixture()
def table(app):
    metadata = MetaData()
    scratch = Table("loading_scratch", metadata, Column("id", Integer, primary_key=True),
                    Column("key", String(20), unique=True, nullable=False), Column("day", Date, nullable=True),
                    Column("amount", Numeric(10, 2), nullable=False), Column("note", String(50), nullable=False),
                    Column("tags", JSON, nullable=False))
    with app.app_context():
        metadata.create_all(db.engine)
        yield scratch
        db.session.rollback()
        metadata.drop_all(db.engine)


def row(n, note=""):
    return (f"k{n}", date(2026, 1, 1 + n % 28) if n % 3 else None, Decimal(n) / 4, note or f'text, "{n}"\nend',
            [n, {"n": n}])


def stored(scratch):
    return {r.key: r for r in db.session.execute(select(scratch)).all()}


def test_only_the_missing_rows_go_in_and_every_value_comes_back(table):
    conn = db.session.connection()
    assert insert_missing(conn, table, COLUMNS, [row(n) for n in range(3)], key="key") == 3
    db.session.commit()
    again = [row(n, note="changed") for n in range(5)]
    assert insert_missing(db.session.connection(), table, COLUMNS, again, key="key") == 2
    db.session.commit()
    rows = stored(table)
    assert sorted(rows) == [f"k{n}" for n in range(5)]
    assert rows["k1"].note == 'text, "1"\nend'  # the stored row is kept, not overwritten
    assert (rows["k3"].day, rows["k3"].amount, rows["k3"].tags) == (None, Decimal("0.75"), [3, {"n": 3}])
    assert rows["k4"].note == "changed" and rows["k4"].day == date(2026, 1, 5)


@requires_postgres
def test_a_key_stored_by_another_writer_after_the_read_is_skipped_not_an_error(table, monkeypatch):
    insert_missing(db.session.connection(), table, COLUMNS, [row(7)], key="key")
    db.session.commit()
    # the read of stored keys happened before the other writer's commit: it saw none of them
    monkeypatch.setattr(loading, "stored_keys", lambda conn, column, keys: set())
    batch = [row(n) for n in range(12_000)]
    assert insert_missing(db.session.connection(), table, COLUMNS, batch, key="key") == 11_999
    db.session.commit()
    assert len(stored(table)) == 12_000


def test_a_progress_that_raises_stops_it_and_the_rollback_leaves_nothing(table):
    seen = []

    def progress(sent):
        seen.append(sent)
        if sent >= 10_000:
            raise RuntimeError("terminated")

    with pytest.raises(RuntimeError, match="terminated"):
        insert_missing(db.session.connection(), table, COLUMNS, [row(n) for n in range(20_000)], key="key",
                       progress=progress)
    db.session.rollback()
    assert seen == [5_000, 10_000]
    assert stored(table) == {}
