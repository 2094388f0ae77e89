"""What every statement format is read into: statements of one account, each a list of booked lines."""
from dataclasses import dataclass
from datetime import date
from decimal import Decimal


class StatementError(ValueError):
    """The whole file is refused; the message says what is wrong, where, and what to do."""


@dataclass(frozen=True)
class Line:
    booking_date: date
    value_date: date | None
    amount: Decimal           # signed: credit > 0, debit < 0; exact, 2 places
    currency: str             # ISO 4217, upper case
    bank_reference: str = ""  # the bank's id of the entry: CAMT AcctSvcrRef (entry's, else the transaction's),
                              # MT940 :61: bank reference (after '//'), the CSV bank reference column
    end_to_end_id: str = ""   # CAMT EndToEndId (never 'NOTPROVIDED'), MT940 :86: EREF+
    fitid: str = ""           # OFX FITID
    reference: str = ""       # the customer reference: MT940 :61: (never NONREF), CAMT InstrId or creditor
                              # reference, OFX REFNUM/CHECKNUM, the CSV reference column
    name: str = ""            # counterparty name: CAMT debtor of a credit / creditor of a debit, OFX NAME,
                              # MT940 ?32 or NAME+
    counterparty_account: str = ""
    remittance: str = ""      # what the payer wrote: CAMT Ustrd lines joined by ' ', MT940 :86: purpose
                              # (SVWZ+ or ?20-?29, else the text), OFX MEMO (else NAME), CSV description


@dataclass(frozen=True)
class Statement:
    format: str               # csv | mt940 | camt053 | ofx
    account: str              # an IBAN normalised, else the account id as given
    currency: str
    statement_id: str
    opening_balance: Decimal | None
    opening_date: date | None
    closing_balance: Decimal | None
    closing_date: date | None
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class CsvProfile:
    """How one bank lays out its CSV export (column headers are matched case-insensitively)."""

    delimiter: str = ","
    decimal: str = "."
    thousands: str = ""
    date_format: str = "%Y-%m-%d"
    date: str = "date"
    value_date: str = ""
    amount: str = "amount"
    credit: str = ""
    debit: str = ""
    currency: str = ""
    default_currency: str = "ZAR"
    reference: str = "reference"
    bank_reference: str = ""
    name: str = "name"
    description: str = "description"
    account: str = ""
    balance: str = ""
