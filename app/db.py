"""Database helpers that hide the differences between SQLite and PostgreSQL."""
from datetime import datetime, timezone

from flask import has_request_context, request
from sqlalchemy import Integer, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from .extensions import db


def utcnow():
    """Return the current UTC time as a naive datetime (how every time is stored)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def is_sqlite(bind=None):
    return (bind or db.engine).dialect.name == "sqlite"


def with_row_locks(query, bind=None, **kwargs):
    """Apply FOR UPDATE SKIP LOCKED where the dialect has it (SQLite serialises writers instead)."""
    if (bind or db.engine).dialect.name in ("postgresql", "mysql", "mariadb", "oracle"):
        return query.with_for_update(skip_locked=True, **kwargs)
    return query


def partition_tables(conn):
    """Names of the partitions tables were split into at run time (PostgreSQL): not in any model."""
    if conn.dialect.name != "postgresql":
        return set()
    return set(conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relispartition AND c.relkind IN ('r', 'p')").scalars())


def skip_partitions(conn):
    """An Alembic include_name hook: run-time partitions are data, not schema to compare or drop."""
    partitions = []  # looked up on first use: a query before Alembic begins would leave its upgrade uncommitted

    def include(name, type_, _parents):
        if not partitions:
            partitions.append(partition_tables(conn))
        return type_ != "table" or name not in partitions[0]
    return include


def installed_driver(url):
    """The URL, with a bare postgresql:// naming psycopg2: the PostgreSQL driver requirements.txt installs.

    SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3, which is not installed.
    """
    url = make_url(url)
    return url.set(drivername="postgresql+psycopg2") if url.drivername == "postgresql" else url


def tune_engine_options(app):
    """The URL's driver and dialect-specific engine options, set before the engine is created."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if make_url(url).drivername == "postgresql":
        app.config["SQLALCHEMY_DATABASE_URI"] = installed_driver(url).render_as_string(hide_password=False)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # Batch executemany UPDATEs (recording several runs' outcomes) into one round trip.
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options.setdefault("executemany_mode", "values_plus_batch")
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def init_app(app):
    """Make every SQLite connection WAL with a busy timeout and a write-lock-first BEGIN."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    busy_ms = int(app.config["SQLITE_BUSY_TIMEOUT"] * 1000)
    with app.app_context():
        engine = db.engine
    _configure_sqlite(engine, busy_ms)


def _configure_sqlite(engine: Engine, busy_ms: int):
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Take over transaction control from pysqlite so BEGIN is ours to choose.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql(f"BEGIN {_sqlite_begin_mode(conn)}")


def read_only(conn):
    """Mark a connection's transactions as reads, so SQLite never makes them wait for a writer."""
    return conn.execution_options(syncdeck_read_only=True)


def begin_write():
    """Start the session's next transaction as a writer (IMMEDIATE on SQLite): for a page view (GET)
    that writes, e.g. an audit entry, whose deferred transaction would read first and then fail at
    its write with "database is locked" had a sync committed in between."""
    db.session.connection(execution_options={"syncdeck_write": True})


def _sqlite_begin_mode(conn):
    options = conn.get_execution_options()
    if options.get("syncdeck_write"):
        return "IMMEDIATE"
    if options.get("syncdeck_read_only"):
        return "DEFERRED"
    # A deferred transaction that reads and then writes fails at once with
    # "database is locked" if another writer committed in between (WAL snapshot
    # rule); busy_timeout cannot help it. Writers therefore take the write lock
    # up front. Page views (GET) stay deferred so they never wait for a sync.
    if has_request_context() and request.method in ("GET", "HEAD", "OPTIONS"):
        return "DEFERRED"
    return "IMMEDIATE"


def insert_ignore(table, bind=None):
    """An INSERT that silently skips rows whose key already exists."""
    name = (bind or db.engine).dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
        return insert(table).on_conflict_do_nothing()
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
        return insert(table).on_conflict_do_nothing()
    from sqlalchemy import insert
    return insert(table).prefix_with("IGNORE")


class days_between(FunctionElement):
    """Whole days from `earlier` to `later` (dates or datetimes, by calendar date), in any dialect."""

    type = Integer()
    inherit_cache = True


@compiles(days_between)
def _days_between_default(element, compiler, **kw):
    later, earlier = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(CAST({later} AS DATE) - CAST({earlier} AS DATE))"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    later, earlier = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(julianday(date({later})) - julianday(date({earlier})) AS INTEGER)"


@compiles(days_between, "mysql")
@compiles(days_between, "mariadb")
def _days_between_mysql(element, compiler, **kw):
    later, earlier = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"DATEDIFF({later}, {earlier})"
