"""What every statement format is read into: statements of one account, each a list of booked lines."""
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Optional


class StatementError(ValueError):
    """The whole file is refused; the message says what is wrong, where, and what to do."""


@dataclass(frozen=True)
class Line:
    booking_date: date
    value_date: Optional[date]
    amount: Decimal           # signed: credit > 0, debit < 0
    currency: str
    bank_reference: str = ""  # the bank's id of the entry (CAMT AcctSvcrRef, MT940 bank reference)
    end_to_end_id: str = ""   # the payer's end-to-end id
    fitid: str = ""           # OFX FITID
    reference: str = ""       # the customer reference
    name: str = ""            # counterparty name
    counterparty_account: str = ""
    remittance: str = ""      # what the payer wrote


@dataclass(frozen=True)
class Statement:
    format: str               # csv | mt940 | camt053 | ofx
    account: str              # an IBAN normalised, else the account id as given
    currency: str
    statement_id: str
    opening_balance: Optional[Decimal]
    opening_date: Optional[date]
    closing_balance: Optional[Decimal]
    closing_date: Optional[date]
    lines: tuple


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
