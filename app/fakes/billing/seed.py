"""Create the CC&B schema at any SQLAlchemy URL and load a generated population into it, fast."""
import collections
import io
import queue
import threading
from decimal import Decimal

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.schema import CreateTable

from .population import Population
from .schema import metadata

COPY_CHUNK = 50_000    # rows per COPY: big enough to amortise the round trip, small enough to stay lean
INSERT_CHUNK = 5_000   # rows per executemany elsewhere
_COPY_READ = 1 << 20   # psycopg2 reads the COPY data in 8 KB pieces unless told otherwise


def create_and_seed(url, crps=200, cpcs=20000, seed=1, today=None, bill_stop_share=0.12, noise=None):
    """Drop and recreate the CC&B tables at `url`, seed them deterministically, and say what was made."""
    if cpcs and not crps:
        raise ValueError("children need at least one parent (crps >= 1)")
    population = Population(crps, cpcs, seed, today, bill_stop_share, noise)
    engine = create_engine(_with_driver(url))
    try:
        _create_tables(engine)
        load = _load_copy if _can_copy(engine) else _load_insert
        counts = load(engine, population.rows())
        _create_indexes(engine)
    finally:
        engine.dispose()
    return {
        "rows": dict(sorted(counts.items())),
        "crps": crps, "cpcs": cpcs, "noise": population.noise,
        "bill_stops_intended": population.intended_bill_stops,
        "today": population.today.isoformat(),
    }


def _with_driver(url):
    """Read plain postgresql:// as psycopg2, the driver this project installs."""
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which is not in requirements.txt.
    url = make_url(url)
    return url.set(drivername="postgresql+psycopg2") if url.drivername == "postgresql" else url


def _can_copy(engine):
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg2"


def _create_tables(engine):
    """Drop and create the tables without their secondary indexes (built after the load: faster)."""
    with engine.begin() as conn:
        metadata.drop_all(conn)
        for table in metadata.sorted_tables:
            conn.execute(CreateTable(table))


def _create_indexes(engine):
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))   # sort millions of keys in memory
        for table in metadata.sorted_tables:
            for index in table.indexes:
                index.create(conn)
            if engine.dialect.name == "postgresql":
                conn.execute(text(f"ANALYZE {table.name}"))   # fresh statistics, as a live CC&B has


class _CopyChunk:
    """Up to COPY_CHUNK rows of one table as COPY text lines (far smaller than the tuples)."""

    def __init__(self):
        self.lines = []
        self.rows = 0

    def add(self, row, _str=str):
        # Most values are already str; the rest go through _text. The generator never makes tabs,
        # newlines or backslashes, so COPY's text format needs no escaping (the csv module is 3x slower).
        self.lines.append("\t".join([v if v.__class__ is _str else _text(v) for v in row]))
        self.rows += 1


_DATE_TEXT = {}


def _text(value):
    """Return the COPY text of a non-str value; dates repeat a lot, so their text is cached."""
    if value is None:
        return "\\N"
    if value.__class__ is Decimal:
        return str(value)
    text_ = _DATE_TEXT.get(value)
    if text_ is None:
        text_ = _DATE_TEXT[value] = str(value)
    return text_


def _load_copy(engine, rows):
    """Load the rows with PostgreSQL COPY in one transaction; return row counts per table."""
    counts = collections.Counter()
    chunks = {}
    raw = engine.raw_connection()
    try:
        with _Copier(raw.cursor()) as copier:
            for name, row in rows:
                chunk = chunks.get(name)
                if chunk is None:
                    chunk = chunks[name] = _CopyChunk()
                chunk.add(row)
                if chunk.rows >= COPY_CHUNK:
                    counts[name] += copier.send(name, chunks.pop(name))
            for name, chunk in chunks.items():
                counts[name] += copier.send(name, chunk)
        raw.commit()
    finally:
        raw.close()
    return counts


class _Copier:
    """Run the COPYs on a second thread, so generating rows (Python) overlaps storing them (PostgreSQL)."""

    def __init__(self, cursor):
        self.cursor = cursor
        self.queue = queue.Queue(maxsize=2)   # bounds memory to a few chunks in flight
        self.error = None
        self.thread = threading.Thread(target=self._run, name="billing-fake-copy", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def send(self, name, chunk):
        """Queue one chunk for COPY; return its row count."""
        if self.error:
            raise self.error
        self.queue.put((name, chunk))
        return chunk.rows

    def __exit__(self, *exc):
        self.queue.put(None)
        self.thread.join()
        if self.error and not exc[0]:
            raise self.error

    def _run(self):
        while (item := self.queue.get()) is not None:
            if self.error is None:   # after a failure keep draining, so the producer never blocks
                try:
                    _copy(self.cursor, *item)
                except Exception as exc:
                    self.error = exc


def _copy(cursor, name, chunk):
    columns = ", ".join(c.name for c in metadata.tables[name].columns)
    chunk.lines.append("")   # the last line needs its newline too
    data = io.StringIO("\n".join(chunk.lines))
    cursor.copy_expert(f"COPY {name} ({columns}) FROM STDIN", data, size=_COPY_READ)
    return chunk.rows


def _load_insert(engine, rows):
    """Load the rows with Core executemany in one transaction; return row counts per table."""
    counts = collections.Counter()
    pending = collections.defaultdict(list)
    with engine.begin() as conn:
        for name, row in rows:
            batch = pending[name]
            batch.append(row)
            if len(batch) >= INSERT_CHUNK:
                counts[name] += _insert(conn, name, batch)
                batch.clear()
        for name, batch in pending.items():
            if batch:
                counts[name] += _insert(conn, name, batch)
    return counts


def _insert(conn, name, batch):
    table = metadata.tables[name]
    keys = [c.key for c in table.columns]
    conn.execute(table.insert(), [dict(zip(keys, row)) for row in batch])
    return len(batch)
