"""The read-only Data explorer: look up rows of whitelisted source tables and columns for diagnostics.

Never arbitrary SQL: the table, the columns shown, the filter column and the operator are chosen
from the lists below, the value is a bound parameter, the rows are capped, and on PostgreSQL the
statement runs read-only under a statement timeout (on SQL Server, the login's query timeout).
"""
from dataclasses import dataclass

from sqlalchemy import cast, select, String, text

from . import source

# table → the columns an operator may see and filter by.
WHITELIST = {
    "membership": ("IDD", "personVId", "firstName", "lastName", "mobile", "CodeMelli", "gender", "organizationId",
                   "membershipCode"),
    "service": ("IDD", "title", "serviceGroup", "price", "serviceType", "isActive"),
    "invoiceHed": ("IDD", "personVId", "invoiceNo", "invoiceDate", "discount", "tax"),
    "invoiceItem": ("IDD", "invoiceHedId", "serviceId", "quantity", "unitPrice", "discount"),
    "ServiceInvoice": ("IDD", "personVId", "serviceId", "invoiceNo", "invoiceDate", "quantity", "unitPrice"),
    "receipt": ("IDD", "personVId", "amount", "receiptDate", "modeldaryaft"),
}
OPERATORS = {"=": "equals", "contains": "contains", ">=": "at least", "<=": "at most"}
MAX_ROWS = 200
MAX_VALUE = 100


class ExplorerError(ValueError):
    """The query asks for something the explorer does not allow; the message says what."""


@dataclass(frozen=True)
class Lookup:
    table: str
    column: str = ""
    operator: str = "="
    value: str = ""
    limit: int = 50

    def validated(self):
        if self.table not in WHITELIST:
            raise ExplorerError(f"Table must be one of {', '.join(WHITELIST)}")
        if self.column and self.column not in WHITELIST[self.table]:
            raise ExplorerError(f"Column must be one of {', '.join(WHITELIST[self.table])}")
        if self.operator not in OPERATORS:
            raise ExplorerError(f"Operator must be one of {', '.join(OPERATORS)}")
        if len(self.value) > MAX_VALUE:
            raise ExplorerError(f"The value is longer than {MAX_VALUE} characters")
        if not 1 <= self.limit <= MAX_ROWS:
            raise ExplorerError(f"Rows must be between 1 and {MAX_ROWS}")
        if self.column and self.value == "":
            raise ExplorerError("Give a value to filter by, or no column")
        return self


def statement(lookup):
    """The SELECT of a validated lookup: whitelisted columns, a bound value, ordered by IDD, capped."""
    table = source.TABLES[lookup.table]
    query = select(*[table.c[name] for name in WHITELIST[lookup.table]])
    if lookup.column:
        column = table.c[lookup.column]
        if lookup.operator == "contains":
            query = query.where(cast(column, String).contains(lookup.value, autoescape=True))
        else:
            value = _typed(column, lookup.value)
            query = query.where(column == value if lookup.operator == "=" else
                                column >= value if lookup.operator == ">=" else column <= value)
    return query.order_by(table.c.IDD).limit(lookup.limit)


def _typed(column, raw):
    python_type = column.type.python_type
    if python_type in (int,):
        try:
            return int(raw)
        except ValueError:
            raise ExplorerError(f"{column.name} holds whole numbers, not {raw!r}") from None
    return raw


def run(url, lookup, timeout_ms):
    """(column names, rows) of the lookup against the source database."""
    query = statement(lookup.validated())
    with source.connect(url) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET TRANSACTION READ ONLY"))
            conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout_ms)}"))
        result = conn.execute(query)
        columns, rows = list(result.keys()), result.all()
        conn.rollback()
    return columns, rows
