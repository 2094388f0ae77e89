"""Create the club's `dbo` schema at any SQLAlchemy URL and load a generated population, fast:
COPY on PostgreSQL, one executemany per chunk elsewhere."""
import collections
import io

from sqlalchemy import create_engine, make_url, text

from .population import Population
from .schema import metadata

CHUNK = 20_000


def engine_for(url):
    """An engine on the source where dbo.x names the table everywhere (SQLite has no schemas: plain x)."""
    url = make_url(url)
    if url.drivername == "postgresql":  # the driver this project installs
        url = url.set(drivername="postgresql+psycopg2")
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        return engine.execution_options(schema_translate_map={"dbo": None})
    return engine


def create_and_seed(url, members=20000, services=300, store_invoices=35000, service_invoices=15000, receipts=20000,
                    seed=1, today=None):
    """Drop and recreate the dbo tables at `url`, seed them deterministically, and say what was made."""
    population = Population(members, services, store_invoices, service_invoices, receipts, seed, today)
    engine = engine_for(url)
    try:
        _create_tables(engine)
        counts = (_load_copy if engine.dialect.name == "postgresql" else _load_insert)(engine, population.rows())
    finally:
        engine.dispose()
    return {"rows": {t.name: counts.get(t.name, 0) for t in metadata.sorted_tables},
            "persons": len(population.persons), "duplicate_mobile_groups": population.duplicate_mobile_groups,
            "duplicate_code_groups": population.duplicate_code_groups}


def _create_tables(engine):
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("CREATE SCHEMA IF NOT EXISTS dbo"))
        metadata.drop_all(conn)
        metadata.create_all(conn)


def _chunks(rows):
    """(table, [row, ...]) in chunks of at most CHUNK rows of one table."""
    pending = collections.defaultdict(list)
    for name, row in rows:
        batch = pending[name]
        batch.append(row)
        if len(batch) >= CHUNK:
            yield name, batch
            pending[name] = []
    for name, batch in pending.items():
        if batch:
            yield name, batch


def _load_insert(engine, rows):
    counts = collections.Counter()
    with engine.begin() as conn:
        for name, batch in _chunks(rows):
            table = metadata.tables[f"dbo.{name}"]
            keys = [c.key for c in table.columns]
            conn.execute(table.insert(), [dict(zip(keys, row)) for row in batch])
            counts[name] += len(batch)
    return counts


def _copy_text(value):
    # The generator makes no tabs, newlines or backslashes: COPY's text format needs no escaping.
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    return str(value)


def _load_copy(engine, rows):
    counts = collections.Counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for name, batch in _chunks(rows):
            columns = ", ".join(f'"{c.name}"' for c in metadata.tables[f"dbo.{name}"].columns)
            data = io.StringIO("".join("\t".join(map(_copy_text, row)) + "\n" for row in batch))
            cursor.copy_expert(f'COPY dbo."{name}" ({columns}) FROM STDIN', data)
            counts[name] += len(batch)
        raw.commit()
    finally:
        raw.close()
    return counts
