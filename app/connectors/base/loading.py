"""Bulk loads and staged merges every pull connector shares: concurrent paging, COPY, merge by key."""
import csv
import gc
import io
import json
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager

from psycopg2.errors import UniqueViolation
from sqlalchemy import JSON, any_, bindparam, exists, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from ...db import insert_ignore


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


def insert_missing(conn, table, columns, rows, key, progress=None):
    """Insert the rows (tuples in `columns` order) whose `key`, a unique column, is not in the table yet;
    returns how many were inserted.

    The stored keys are read first (on PostgreSQL only if a probe of a few finds any), then only the
    missing rows are written. On PostgreSQL that is one COPY streamed as it is written (the server
    indexes while the rows are formatted): 100,000 rows in 1 s, where a staging table + INSERT … ON
    CONFLICT took 1.5 s and multi-row INSERT … ON CONFLICT 10 s. If another writer stored a key
    meanwhile, the COPY is undone to a savepoint and the rows go through a staging table with ON
    CONFLICT DO NOTHING instead.
    progress(rows sent so far) is called as the rows go; if it raises (a Terminate), so does this, and the
    caller's transaction holds nothing of it once rolled back.
    """
    with _collector_paused():
        return _insert_missing(conn, table, columns, rows, key, progress)


@contextmanager
def _collector_paused():
    """Python's cyclic collector off while rows are built: every few hundred new tuples it would walk
    all live objects (a parsed statement is millions), a second per 100,000 rows; rows hold no cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _insert_missing(conn, table, columns, rows, key, progress):
    rows = list(rows)
    at = columns.index(key)
    keys = [row[at] for row in rows]
    if conn.dialect.name != "postgresql":
        stored = stored_keys(conn, table.c[key], keys)
        missing = [row for row in rows if row[at] not in stored]
        for start in range(0, len(missing), COPY_BATCH):
            conn.execute(insert_ignore(table, conn), [dict(zip(columns, row))
                                                      for row in missing[start:start + COPY_BATCH]])
            if progress:
                progress(min(start + COPY_BATCH, len(missing)))
        return len(missing)
    if stored_keys(conn, table.c[key], keys[::max(1, len(keys) // PROBE)]):
        stored = stored_keys(conn, table.c[key], keys)
        rows = [row for row in rows if row[at] not in stored]
    # else all new, most likely (a first import): reading every key would cost a third of the COPY
    return _copy_missing(conn, table, columns, rows, key, progress) if rows else 0


PROBE = 500  # keys looked up to guess whether any is stored; a wrong guess costs time, never a row
COPY_BATCH = 5_000


def stored_keys(conn, column, keys):
    """The set of these keys already in column (a unique one)."""
    if conn.dialect.name == "postgresql":
        keys = bindparam("keys", keys, type_=ARRAY(column.type))
        return set(conn.execute(select(column).where(column == any_(keys))).scalars())
    stored = set()
    for start in range(0, len(keys), 500):
        stored.update(conn.execute(select(column).where(column.in_(keys[start:start + 500]))).scalars())
    return stored


def _copy_missing(conn, table, columns, rows, key, progress):
    names = ", ".join(f'"{n}"' for n in columns)
    stream = _CsvStream(rows, _copy_fixes(table, columns), progress)
    options = f"FORMAT csv, NULL '{_NULL}'"
    conn.exec_driver_sql("SAVEPOINT insert_missing")
    try:
        copy_from_stream(conn, f'COPY "{table.name}" ({names}) FROM STDIN WITH ({options})', stream)
    except UniqueViolation:
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT insert_missing")
    else:
        conn.exec_driver_sql("RELEASE SAVEPOINT insert_missing")
        return len(rows)
    stage = f"_insert_missing_{table.name}"
    conn.exec_driver_sql(f'CREATE TEMP TABLE "{stage}" ON COMMIT DROP AS SELECT {names} FROM "{table.name}" '
                         "WITH NO DATA")
    copy_from_stream(conn, f'COPY "{stage}" ({names}) FROM STDIN WITH ({options})',
                     _CsvStream(rows, stream.fixes, progress))
    inserted = conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM "{stage}" '
                                    f'ON CONFLICT ("{key}") DO NOTHING').rowcount
    conn.exec_driver_sql(f'DROP TABLE "{stage}"')
    return inserted


def copy_from_stream(conn, sql, stream):
    copy_expert(conn, sql, stream)
    if stream.error is not None:
        raise stream.error


class _CsvStream:
    """A file COPY reads from: the rows as CSV, COPY_BATCH rows per read, written only when asked for.

    An exception from progress (a Terminate) ends the data early and is raised once COPY returns,
    because psycopg2 would replace it with its own "error in .read() call"; the caller's transaction
    then rolls the partial COPY back.
    """

    def __init__(self, rows, fixes, progress=None):
        self.rows, self.fixes, self.progress, self.sent, self.error = rows, fixes, progress, 0, None

    def read(self, size=-1):
        batch = self.rows[self.sent:self.sent + COPY_BATCH]
        if not batch or self.error:
            return ""
        self.sent += len(batch)
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(_fixed(batch, self.fixes) if self.fixes else batch)
        if self.progress:
            try:
                self.progress(self.sent)
            except Exception as exc:  # raised again by copy_from_stream, once COPY has ended
                self.error = exc
        return buffer.getvalue()


def _copy_fixes(table, columns):
    """[(position, convert)] for the columns whose values COPY cannot take as they are: JSON (dumped) and
    nullable ones (None written as NULL). The rest go to the CSV writer untouched, which is most of the time."""
    fixes = []
    for position, name in enumerate(columns):
        column = table.c[name]
        if isinstance(column.type, JSON):
            fixes.append((position, lambda v: _NULL if v is None else json.dumps(v)))
        elif column.nullable:
            fixes.append((position, lambda v: _NULL if v is None else v))
    return fixes


def _fixed(batch, fixes):
    for row in batch:
        row = list(row)
        for position, convert in fixes:
            row[position] = convert(row[position])
        yield row


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
