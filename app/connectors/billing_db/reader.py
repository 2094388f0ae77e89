"""Read the bill-stop query's rows from the source in chunks, as fast as its dialect allows.

Everywhere: a server-side cursor (`stream_results`), chunk by chunk. On PostgreSQL: `COPY (query)
TO STDOUT`, which skips the cursor's fetch round trips and row objects — measured as the floor of
reading this query — with rows parsed from CSV a chunk at a time. Either way rows never pile up.
"""
import csv
from datetime import date
from decimal import Decimal


def read_chunks(conn, query, chunk, sink):
    """Call sink(rows) for every chunk of rows (tuples in source.COLUMNS order)."""
    if conn.dialect.name == "postgresql":
        _copy_out(conn, query, chunk, sink)
        return
    result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
    for rows in result.partitions():
        sink(rows)


def _copy_out(conn, query, chunk, sink):
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    lines = _Lines(chunk, lambda text: sink([_typed(row) for row in csv.reader(text)]))
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        # psycopg2 hands each row to lines.write(); an exception there (Terminate) aborts the COPY.
        cursor.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", lines)
    finally:
        cursor.close()
    lines.flush()


class _Lines:
    """A file-like target for COPY TO that hands on `chunk` lines at a time."""

    def __init__(self, chunk, hand_on):
        self.chunk, self.hand_on, self.buffer = chunk, hand_on, []

    def write(self, data):
        self.buffer.append(data.decode() if isinstance(data, bytes) else data)
        if len(self.buffer) >= self.chunk:
            self.flush()

    def flush(self):
        if self.buffer:
            text, self.buffer = "".join(self.buffer), []
            self.hand_on(text.splitlines())


def _typed(row):
    """CSV strings → the values the cursor would give (COPY's CSV writes NULL as an empty field)."""
    crp, cpc, legacy, name, address, active, last_bill, billed, balance = row
    return (crp or None, cpc, legacy or None, name or None, address or None, int(active),
            date.fromisoformat(last_bill) if last_bill else None, int(billed), Decimal(balance) if balance else 0)
