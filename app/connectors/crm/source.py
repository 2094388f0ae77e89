"""The customer's MSSQL database as the bridge reads it: the `dbo` tables (only the columns read) and
every query, in SQLAlchemy Core so one text runs on SQL Server (mssql+pytds), PostgreSQL and SQLite.

Reads never change the customer's tables. They walk each table by key in short chunks
(`WHERE key > :last ORDER BY key`, TOP n on SQL Server) instead of holding one cursor open for the
whole push, so the bridge never keeps locks on a production database while it waits on the CRM.
"""
import threading

from sqlalchemy import (Boolean, Column, Date, DateTime, Integer, MetaData, Numeric, String, Table, Unicode,
                        create_engine, func, select, union_all)

from ...db import installed_driver, read_only

meta = MetaData(schema="dbo")
membership = Table("membership", meta, Column("IDD", Integer, primary_key=True), Column("personVId", Integer),
                   Column("firstName", Unicode(100)), Column("lastName", Unicode(100)), Column("mobile", String(20)),
                   Column("CodeMelli", String(10)), Column("gender", Integer), Column("organizationId", Integer),
                   Column("membershipCode", String(20)), Column("jobTitle", Unicode(100)), Column("email", String(200)),
                   Column("birthDate", Date))
service = Table("service", meta, Column("IDD", Integer, primary_key=True), Column("title", Unicode(200)),
                Column("serviceGroup", Unicode(100)), Column("price", Numeric(18, 0)), Column("serviceType", Integer),
                Column("isActive", Boolean))
invoice_hed = Table("invoiceHed", meta, Column("IDD", Integer, primary_key=True), Column("personVId", Integer),
                    Column("invoiceNo", String(30)), Column("invoiceDate", DateTime), Column("discount", Numeric(18, 0)),
                    Column("tax", Numeric(18, 0)), Column("description", Unicode(400)))
invoice_item = Table("invoiceItem", meta, Column("IDD", Integer, primary_key=True), Column("invoiceHedId", Integer),
                     Column("serviceId", Integer), Column("quantity", Integer), Column("unitPrice", Numeric(18, 0)),
                     Column("discount", Numeric(18, 0)))
service_invoice = Table("ServiceInvoice", meta, Column("IDD", Integer, primary_key=True), Column("personVId", Integer),
                        Column("serviceId", Integer), Column("invoiceNo", String(30)), Column("invoiceDate", DateTime),
                        Column("quantity", Integer), Column("unitPrice", Numeric(18, 0)),
                        Column("discount", Numeric(18, 0)), Column("tax", Numeric(18, 0)))
receipt = Table("receipt", meta, Column("IDD", Integer, primary_key=True), Column("personVId", Integer),
                Column("amount", Numeric(18, 0)), Column("receiptDate", DateTime), Column("modeldaryaft", Integer),
                Column("description", Unicode(400)))

TABLES = {t.name: t for t in (membership, service, invoice_hed, invoice_item, service_invoice, receipt)}

_engines, _engines_lock = {}, threading.Lock()


class SourceNotConfigured(Exception):
    """CRM_SOURCE_URL is empty."""


def engine_for(url):
    """One pooled engine per source URL and process; on SQLite (no schemas) dbo.x is just x."""
    if not url:
        raise SourceNotConfigured("CRM_SOURCE_URL is not set: the bridge has no source database to read.")
    with _engines_lock:
        if url not in _engines:
            engine = create_engine(installed_driver(url), pool_pre_ping=True)
            if engine.dialect.name == "sqlite":
                engine = engine.execution_options(schema_translate_map={"dbo": None})
            _engines[url] = engine
        return _engines[url]


def connect(url):
    return read_only(engine_for(url).connect())


def in_chunks(conn, query, key, size, after=None):
    """Yield the rows of `query` in chunks of `size`, ordered by `key`, each chunk its own statement."""
    while True:
        chunk_query = query if after is None else query.where(key > after)
        rows = conn.execute(chunk_query.order_by(key).limit(size)).mappings().all()
        conn.rollback()  # end the read: hold nothing on the source between chunks
        if not rows:
            return
        yield rows
        after = rows[-1][key.name]
        if len(rows) < size:
            return


def latest_members(min_id=0):
    """The latest version (highest IDD) of every person, from IDD min_id on: one row per personVId."""
    latest = (select(membership.c.personVId, func.max(membership.c.IDD).label("IDD"))
              .where(membership.c.IDD >= min_id).group_by(membership.c.personVId).subquery("latest"))
    return select(membership).join(latest, latest.c.IDD == membership.c.IDD)


def latest_activity():
    """Each person's latest invoice date, over store and service invoices (the de-duplication tie-break)."""
    dated = union_all(select(invoice_hed.c.personVId, invoice_hed.c.invoiceDate.label("at")),
                      select(service_invoice.c.personVId, service_invoice.c.invoiceDate.label("at"))).subquery("dated")
    return select(dated.c.personVId, func.max(dated.c.at).label("last_activity")).group_by(dated.c.personVId)


def rows_from(table, min_id=0):
    """A whole table from IDD min_id on."""
    return select(table).where(table.c.IDD >= min_id)


def items_of(head_ids):
    """The line items of these store invoices."""
    return (select(invoice_item).where(invoice_item.c.invoiceHedId.in_(list(head_ids)))
            .order_by(invoice_item.c.invoiceHedId, invoice_item.c.IDD))


def count_of(query):
    return select(func.count()).select_from(query.subquery("counted"))


def distinct_values(table, column):
    """The distinct non-null values of one column (Mappings → Load & Discover)."""
    col = TABLES[table].c[column]
    return select(col).where(col.is_not(None)).distinct().order_by(col)
