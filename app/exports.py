"""Streamed CSV exports: any number of rows at constant memory (a server-side cursor, batch by batch)."""
import csv
import io

from flask import Response, stream_with_context

from .extensions import db

BATCH = 1000
# A cell starting with one of these is run as a formula by spreadsheets; prefix it with '.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Neutralise spreadsheet formulas in text that came from outside (usernames, sources)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_response(query, header, to_row, filename, batch=None):
    """A streamed CSV attachment of a Core/ORM select; to_row turns one result row into cells."""
    chunks = _chunks(query, header, to_row, batch or BATCH)
    return Response(stream_with_context(chunks), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _chunks(query, header, to_row, batch):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield _drain(buffer)
    result = db.session.execute(query.execution_options(yield_per=batch))
    for rows in result.partitions():
        writer.writerows([safe_cell(cell) for cell in to_row(row)] for row in rows)
        yield _drain(buffer)


def _drain(buffer):
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
