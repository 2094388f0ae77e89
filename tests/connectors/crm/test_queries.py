"""Every query the bridge sends to the customer's database compiles for SQL Server (mssql+pytds),
and the data explorer can only ever read whitelisted columns with bound values."""
import pytest
from sqlalchemy import create_engine

from app.connectors.crm import explorer, source
from app.connectors.crm.records import MAPPING_KINDS

MSSQL = create_engine("mssql+pytds://user:secret@127.0.0.1:1433/Club").dialect


def _chunked(query, key):
    """The statement in_chunks sends after the first chunk: keyset, ordered, TOP n."""
    return query.where(key > 10).order_by(key).limit(500)


QUERIES = {
    "latest members": _chunked(source.latest_members(100), source.membership.c.personVId),
    "latest activity": source.latest_activity(),
    "services": _chunked(source.rows_from(source.service, 0), source.service.c.IDD),
    "store invoices": _chunked(source.rows_from(source.invoice_hed, 5), source.invoice_hed.c.IDD),
    "items of invoices": source.items_of([1, 2, 3]),
    "service invoices": _chunked(source.rows_from(source.service_invoice, 0), source.service_invoice.c.IDD),
    "receipts": _chunked(source.rows_from(source.receipt, 0), source.receipt.c.IDD),
    "a count": source.count_of(source.latest_members(0)),
    **{f"discover {kind}": source.distinct_values(table, column) for kind, (_l, table, column) in MAPPING_KINDS.items()},
    "explorer": explorer.statement(explorer.Lookup("membership", "mobile", "contains", "0912", 20)),
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_each_source_query_compiles_for_sql_server(name):
    sql = str(QUERIES[name].compile(dialect=MSSQL))
    assert "dbo." in sql
    assert "LIMIT" not in sql.upper().split("FROM")[0]  # SQL Server has TOP, not LIMIT


def test_a_chunk_is_read_with_top_and_a_keyset_not_an_offset():
    sql = str(QUERIES["store invoices"].compile(dialect=MSSQL))
    assert sql.startswith("SELECT TOP") and "OFFSET" not in sql and '[IDD] >' in sql


def test_the_latest_member_version_is_chosen_by_the_highest_idd_per_person():
    sql = str(QUERIES["latest members"].compile(dialect=MSSQL))
    assert "max(dbo.membership.[IDD])" in sql and "GROUP BY dbo.membership.[personVId]" in sql


@pytest.mark.parametrize("lookup, message", [
    (explorer.Lookup("users"), "Table must be one of"),
    (explorer.Lookup("membership", "password"), "Column must be one of"),
    (explorer.Lookup("membership", "mobile", "; DROP TABLE x", "1"), "Operator must be one of"),
    (explorer.Lookup("membership", "mobile", "=", ""), "Give a value"),
    (explorer.Lookup("membership", limit=10_000), "Rows must be between"),
    (explorer.Lookup("membership", "mobile", "=", "x" * 101), "longer than"),
])
def test_the_explorer_refuses_what_is_not_whitelisted(lookup, message):
    with pytest.raises(explorer.ExplorerError, match=message):
        lookup.validated()


def test_an_explorer_value_is_a_bound_parameter_never_sql():
    hostile = "1' OR '1'='1"
    compiled = explorer.statement(explorer.Lookup("membership", "lastName", "=", hostile, 5)).compile(dialect=MSSQL)
    assert hostile not in str(compiled) and hostile in compiled.params.values()
