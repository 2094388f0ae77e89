"""Bank accounts are connections (connector "banking", one per account): the account number or IBAN a
statement must name, its currency, and how that bank lays out its CSV export."""
from ..base.connection_models import ConnectionSpec, Field
from ..base.connections import active_connections, connection_settings
from .identity import normalise_account
from .statements import CsvProfile

CONNECTOR = "banking"

CONNECTION = ConnectionSpec(
    multiple=True, key_label="Account key",
    help="One bank account: statements naming any other account are refused whole.",
    fields=(
        Field("account", "IBAN or account number", required=True,
              help="As the bank writes it in its statements (spaces are ignored)."),
    ),
    settings=(
        Field("currency", "Currency", default="ZAR"),
        Field("csv_delimiter", "CSV: delimiter", default=",", choices=(",", ";", "\\t", "|", "auto")),
        Field("csv_decimal", "CSV: decimal mark", default=".", choices=(".", ",")),
        Field("csv_thousands", "CSV: thousands separator", default="", help="Empty, ',', '.', ' ' or \"'\"."),
        Field("csv_date_format", "CSV: date format", default="%Y-%m-%d", help="e.g. %d/%m/%Y"),
        Field("csv_date", "CSV column: booking date", default="date"),
        Field("csv_value_date", "CSV column: value date", default=""),
        Field("csv_amount", "CSV column: signed amount", default="amount",
              help="Leave empty when the export has separate credit and debit columns."),
        Field("csv_credit", "CSV column: credit", default=""),
        Field("csv_debit", "CSV column: debit", default=""),
        Field("csv_reference", "CSV column: reference", default="reference"),
        Field("csv_bank_reference", "CSV column: bank reference", default=""),
        Field("csv_name", "CSV column: counterparty name", default="name"),
        Field("csv_description", "CSV column: description", default="description"),
        Field("csv_balance", "CSV column: running balance", default=""),
    ),
)


def known_accounts():
    """{normalised account: connection} of the active accounts."""
    return {normalise_account(connection_settings(conn, CONNECTION).get("account")): conn
            for conn in active_connections(CONNECTOR)}


def csv_profile(conn):
    """The CSV layout configured on this account's connection."""
    values = connection_settings(conn, CONNECTION)
    delimiter = values.get("csv_delimiter") or ","
    return CsvProfile(
        delimiter="\t" if delimiter == "\\t" else delimiter, decimal=values.get("csv_decimal") or ".",
        thousands=values.get("csv_thousands") or "", date_format=values.get("csv_date_format") or "%Y-%m-%d",
        date=values.get("csv_date") or "date", value_date=values.get("csv_value_date") or "",
        amount=values.get("csv_amount") or "", credit=values.get("csv_credit") or "",
        debit=values.get("csv_debit") or "", default_currency=values.get("currency") or "ZAR",
        reference=values.get("csv_reference") or "", bank_reference=values.get("csv_bank_reference") or "",
        name=values.get("csv_name") or "", description=values.get("csv_description") or "",
        balance=values.get("csv_balance") or "")
