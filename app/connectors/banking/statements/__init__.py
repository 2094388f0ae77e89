"""Bank statements in, Statement objects out: CSV (as the account's layout says), MT940, CAMT.053 and OFX.

A file is read whole and checked whole (balances chain, IBANs are IBANs, currencies agree) before
anything is returned: StatementError refuses it with the reason. The writers make real files of each
format from the same objects (the demo, the tests and the benchmarks use them).
"""
from . import camt_format, csv_format, mt940_format, ofx_format
from .checks import check_balances, check_currencies
from .detect import detect_format
from .model import CsvProfile, Line, Statement, StatementError
from .writers import write_camt053, write_csv, write_mt940, write_ofx

__all__ = ["CsvProfile", "Line", "Statement", "StatementError", "detect_format", "parse_statement",
           "write_camt053", "write_csv", "write_mt940", "write_ofx"]


def parse_statement(content: bytes, filename: str = "", *, csv_profile: CsvProfile | None = None,
                    account: str = "") -> list[Statement]:
    """The file's statements, checked; StatementError (for the operator) when the file is refused."""
    if not content or not content.lstrip(b"\xef\xbb\xbf").strip():
        raise StatementError(f"{filename or 'the file'} is empty: download the statement again.")
    fmt = detect_format(content, filename)
    if fmt in ("camt053", "xml"):  # camt_format names what a non-statement XML is
        statements = camt_format.parse(content)
    elif fmt == "ofx":
        statements = ofx_format.parse(content)
    elif fmt == "mt940":
        statements = mt940_format.parse(csv_format.decode(content))
    else:
        text = csv_format.decode(content)
        if "\x00" in text or not any(ch in text[:2000] for ch in ",;\t|"):
            raise StatementError(f"{filename or 'the file'} is not a statement this tool reads (CSV, MT940, "
                                 "CAMT.053 or OFX): upload the bank's statement export.")
        statements = csv_format.parse(text, csv_profile or CsvProfile(), account, filename)
    for statement in statements:
        check_currencies(statement)
    return check_balances(statements)
