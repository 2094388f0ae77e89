"""Read the details query from the source in chunks, as fast as the two databases allow.

Everywhere: a server-side cursor (`stream_results`), chunk by chunk, rows as tuples. From
PostgreSQL into PostgreSQL: `COPY (query) TO STDOUT` on the source, its CSV handed on untouched a
chunk at a time, for COPY … FROM on our side: no cursor round trips, no Python values, and rows
never pile up.
"""
from ..base import copy_expert


def read_chunks(conn, query, chunk, sink, raw=False):
    """Call sink(data, n) for every chunk of n rows: a list of tuples, or with raw=True (PostgreSQL
    sources only) the rows as PostgreSQL's CSV, UTF-8 bytes."""
    if raw:
        _copy_out(conn, query, chunk, sink)
        return
    result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
    for rows in result.partitions():
        sink(rows, len(rows))


def _copy_out(conn, query, chunk, sink):
    schemas = conn.get_execution_options().get("schema_translate_map")
    sql = str(query.compile(dialect=conn.dialect, schema_translate_map=schemas, render_schema_translate=bool(schemas),
                            compile_kwargs={"literal_binds": True}))
    rows = _Rows(chunk, sink)
    # psycopg2 calls rows.write() once per row; an exception there (Terminate) aborts the COPY.
    # UTF-8 whatever either connection's client encoding: the bytes go to base.copy_csv untouched.
    copy_expert(conn, f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, ENCODING 'UTF8')", rows)
    rows.flush()


class _Rows:
    """A file-like target for COPY TO that hands on `chunk` rows at a time."""

    def __init__(self, chunk, sink):
        self.chunk, self.sink, self.buffer = chunk, sink, []

    def write(self, data):
        self.buffer.append(data)
        if len(self.buffer) >= self.chunk:
            self.flush()

    def flush(self):
        if self.buffer:
            data, n, self.buffer = b"".join(self.buffer), len(self.buffer), []
            self.sink(data, n)
