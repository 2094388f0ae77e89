"""On PostgreSQL each batch's details are their own partition of billing_bill_stop_details.

A batch loads into a bare table, so no index is maintained row by row (a million rows COPY in
~2.5 s bare against ~24 s into the indexed table); publishing indexes it in one pass and then
attaches it, so pages never see it half-built. A batch leaving history is dropped, not deleted
row by row. Dropping an attached partition needs the parent's exclusive lock, so it waits at most
LOCK_WAIT for readers (a long export, say) and otherwise the caller deletes the rows; the empty
table left behind is swept by a later batch. SQLite has no partitions: it keeps one plain table.
"""
from sqlalchemy import column, table
from sqlalchemy.exc import OperationalError

from .models import BillStopDetail

DETAILS = BillStopDetail.__table__
LOCK_WAIT = "1s"  # how long pages may queue behind a waiting DROP


def enabled(conn):
    return conn.dialect.name == "postgresql"


def name(batch_id):
    return f"{DETAILS.name}_{int(batch_id)}"


def load_target(conn, batch_id):
    """Where the batch's rows are written: its own partition, or the details table itself."""
    if not enabled(conn):
        return DETAILS
    return table(name(batch_id), *[column(c.name) for c in DETAILS.columns])


def create(conn, batch_id):
    """A bare table shaped like the details, its CHECK letting ATTACH skip a scan of the rows."""
    if enabled(conn):
        conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name(batch_id)}"')
        conn.exec_driver_sql(f'CREATE TABLE "{name(batch_id)}" (LIKE "{DETAILS.name}" INCLUDING DEFAULTS, '
                             f'CHECK (batch_id = {int(batch_id)}))')


def index_and_attach(conn, batch_id):
    """Build the details' primary key and indexes on the loaded partition, then attach it."""
    if not enabled(conn):
        return
    part = name(batch_id)
    conn.exec_driver_sql(f'ALTER TABLE "{part}" ADD PRIMARY KEY ({_columns(DETAILS.primary_key.columns)})')
    for index in DETAILS.indexes:
        conn.exec_driver_sql(f'CREATE INDEX "{index.name}_{int(batch_id)}" ON "{part}" ({_columns(index.columns)})')
    conn.exec_driver_sql(f'ANALYZE "{part}"')  # a million new rows: the pages' plans need their statistics
    # The parent adopts the matching indexes; readers are not blocked (SHARE UPDATE EXCLUSIVE).
    conn.exec_driver_sql(f'ALTER TABLE "{DETAILS.name}" ATTACH PARTITION "{part}" FOR VALUES IN ({int(batch_id)})')


def drop(conn, batch_id):
    """Drop the batch's partition if readers let us within LOCK_WAIT; False when the caller must delete."""
    if not enabled(conn):
        return False
    waited = conn.exec_driver_sql("SELECT current_setting('lock_timeout')").scalar()
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name(batch_id)}"')
    except OperationalError:  # lock_not_available: the savepoint is rolled back, and the SET with it
        return False
    conn.exec_driver_sql("SELECT set_config('lock_timeout', %(v)s, true)", {"v": waited})
    return True


def sweep(conn, live_ids):
    """Drop attached partitions of batches that are no longer live (left empty when a drop had to wait)."""
    if not enabled(conn):
        return
    attached = conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(%(parent)s)", {"parent": DETAILS.name}).scalars()
    for part in attached.all():
        batch_id = int(part.rsplit("_", 1)[1])
        if batch_id not in live_ids:
            drop(conn, batch_id)


def _columns(columns):
    return ", ".join(f'"{c.name}"' for c in columns)
