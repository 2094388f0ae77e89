"""Bulk loads and staged merges every pull connector shares: concurrent paging, COPY, merge by key."""
import csv
import io
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from sqlalchemy import exists, or_, select


class SourceError(Exception):
    """The source failed or answered something unusable; the message is shown to operators."""


# --------------------------------------------------------------------------- paging
def fetch_pages(fetch_page, page_size, workers):
    """Yield (offset, rows) for every page of a limit/offset collection, up to `workers` requests in flight.

    The source gives no total, so pages are requested ahead and the first short page marks the end;
    pages are yielded in completion order. Closing the generator (a consumer that raised) cancels
    what has not started.
    """
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="page")
    pending, next_offset, end = {}, 0, None

    def submit():
        nonlocal next_offset
        pending[pool.submit(fetch_page, next_offset, page_size)] = next_offset
        next_offset += page_size

    try:
        for _ in range(workers):
            submit()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=pending.get):
                offset = pending.pop(future)
                rows = future.result()
                if len(rows) < page_size:
                    end = offset if end is None else min(end, offset)
                if end is None:
                    submit()
                yield offset, rows
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


# --------------------------------------------------------------------------- loading
def bulk_insert(conn, table, rows):
    """Insert tuples (in the table's column order) as fast as the dialect allows: COPY on PostgreSQL."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        _copy_rows(conn, table, rows)
    else:
        names = [c.name for c in table.columns]
        conn.execute(table.insert(), [dict(zip(names, row)) for row in rows])
    return len(rows)


_NULL = "\\N"


def _copy_rows(conn, table, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([_NULL if v is None else v for v in row] for row in rows)
    buffer.seek(0)
    _copy_from(conn, table, buffer, f"FORMAT csv, NULL '{_NULL}'")


def copy_csv(conn, table, data):
    """COPY rows already written as PostgreSQL's own UTF-8 CSV (a COPY … TO of another server) into table.

    Its CSV tells NULL (an unquoted empty field) from '' (a quoted one), so rows cross unchanged.
    """
    _copy_from(conn, table, io.BytesIO(data), "FORMAT csv, ENCODING 'UTF8'")


def _copy_from(conn, table, file, options):
    columns = ", ".join(f'"{c.name}"' for c in table.columns)
    copy_expert(conn, f'COPY "{table.name}" ({columns}) FROM STDIN WITH ({options})', file)


def copy_expert(conn, sql, file):
    """Run a COPY … FROM STDIN / TO STDOUT on the connection's own psycopg2 cursor (in its transaction)."""
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.copy_expert(sql, file)
    finally:
        cursor.close()


def analyze(conn, table):
    """Refresh the planner's statistics of a table just filled (PostgreSQL plans joins by them)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f'ANALYZE "{table.name}"')


def merge_staged(conn, target, stage, run_id, scope=None):
    """Make `target` equal the rows staged by run_id (within `scope`, a condition on target).

    Only rows that differ are written, so a second identical sync changes nothing.
    Returns (inserted, updated, deleted).
    """
    key = target.c.id
    names = [c.name for c in target.columns]
    mine = stage.c.run_id == run_id
    gone = target.delete().where(~exists().where(stage.c.id == key, mine))
    if scope is not None:
        gone = gone.where(scope)
    deleted = conn.execute(gone).rowcount
    changed = [n for n in names if n != "id"]
    updated = conn.execute(
        target.update().where(key == stage.c.id, mine, or_(*[target.c[n].is_distinct_from(stage.c[n]) for n in changed]))
        .values({n: stage.c[n] for n in changed})
    ).rowcount
    new = select(*[stage.c[n] for n in names]).where(mine, ~exists().where(key == stage.c.id))
    inserted = conn.execute(target.insert().from_select(names, new)).rowcount
    return inserted, updated, deleted


def clear_staging(conn, stages, run_id=None):
    """Empty staging tables (everything, or only one run's rows)."""
    for stage in stages:
        statement = stage.delete()
        if run_id is not None:
            statement = statement.where(stage.c.run_id == run_id)
        conn.execute(statement)
