"""The statement readers and writers, as pure functions over real files of each format."""
from datetime import date
from decimal import Decimal

import pytest

from app.connectors.banking.statements import (CsvProfile, Line, Statement, StatementError, detect_format,
                                               parse_statement, write_camt053, write_csv, write_mt940, write_ofx)

IBAN = "GB82WEST12345698765432"


def line(n, amount, **kw):
    return Line(booking_date=date(2026, 11, n), value_date=date(2026, 11, n), amount=Decimal(amount), currency="ZAR",
                **{"bank_reference": f"REF{n:04d}", "name": "Lerato Dlamini", "remittance": f"INV 2026{n:06d}", **kw})


def stmt(lines, opening="500.00", sid="S1", account=IBAN, fmt="camt053"):
    opening = Decimal(opening)
    closing = opening + sum((l.amount for l in lines), Decimal("0"))
    return Statement(fmt, account, "ZAR", sid, opening, lines[0].booking_date, closing, lines[-1].booking_date,
                     tuple(lines))


LINES = [line(2, "100.00", end_to_end_id="E2E-1", reference="INSTR1"), line(3, "-20.25", name="Bank"),
         line(4, "1234.56", remittance="x" * 300)]


@pytest.mark.parametrize("writer,fmt", [(lambda s: write_camt053([s]), "camt053"),
                                        (lambda s: write_camt053([s], version="001.08"), "camt053"),
                                        (lambda s: write_mt940([s]), "mt940"),
                                        (lambda s: write_ofx(s, version=1), "ofx"),
                                        (lambda s: write_ofx(s, version=2), "ofx")])
def test_every_format_reads_back_what_was_written(writer, fmt):
    content = writer(stmt(LINES))
    assert detect_format(content) == fmt
    (got,) = parse_statement(content)
    assert (got.format, got.account, got.currency) == (fmt, IBAN, "ZAR")
    assert (got.opening_balance, got.closing_balance) == (Decimal("500.00"), Decimal("1814.31"))
    assert [(l.booking_date, l.amount) for l in got.lines] == [(l.booking_date, l.amount) for l in LINES]
    assert [l.bank_reference or l.fitid for l in got.lines] == ["REF0002", "REF0003", "REF0004"]
    assert got.lines[0].remittance == "INV 2026000002"
    if fmt != "ofx":
        assert got.lines[0].end_to_end_id == "E2E-1" and got.lines[0].name == "Lerato Dlamini"


def test_camt_keeps_a_long_remittance_whole_and_mt940_cuts_it_at_six_lines():
    (camt,) = parse_statement(write_camt053([stmt(LINES)]))
    assert camt.lines[2].remittance.replace(" ", "") == "x" * 300
    (mt,) = parse_statement(write_mt940([stmt(LINES)]))
    assert mt.lines[2].remittance.startswith("x" * 100) and len(mt.lines[2].remittance) < 390


def test_mt940_with_two_statements_must_chain():
    first, second = stmt(LINES[:2], sid="A"), stmt(LINES[2:], opening="579.75", sid="B")
    assert [s.statement_id for s in parse_statement(write_mt940([first, second]))] == ["A/00001/1", "B/00002/1"]
    broken = stmt(LINES[2:], opening="600.00", sid="B")
    with pytest.raises(StatementError, match="do not chain"):
        parse_statement(write_mt940([first, broken]))


def test_a_bad_61_line_is_named_by_its_line_number_and_why():
    text = write_mt940([stmt(LINES)]).decode("latin-1")
    bad = text.replace(":61:2611031103D20,25", ":61:2611031103X20,25")
    with pytest.raises(StatementError, match=r"line \d+: bad :61: line .*debit/credit mark"):
        parse_statement(bad.encode())
    with pytest.raises(StatementError, match=r"no :62F: \(closing balance\)"):
        parse_statement(text.split(":62F:")[0].encode())


def test_truncated_xml_other_camt_messages_and_entities_are_refused():
    camt = write_camt053([stmt(LINES)])
    with pytest.raises(StatementError, match="not well-formed XML at line"):
        parse_statement(camt[:-200])
    camt052 = camt.replace(b"camt.053.001.02", b"camt.052.001.02")
    with pytest.raises(StatementError, match="camt.052.001.02, not a camt.053"):
        parse_statement(camt052)
    xxe = camt.replace(b'<?xml version="1.0" encoding="UTF-8"?>',
                       b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>')
    xxe = xxe.replace(b"<Id>S1</Id>", b"<Id>&x;</Id>")
    try:
        (got,) = parse_statement(xxe)
        assert "root:" not in got.statement_id
    except StatementError:
        pass  # refusing it is as good


def test_balances_that_do_not_add_up_are_refused_with_the_numbers():
    wrong = Statement(**{**stmt(LINES).__dict__, "closing_balance": Decimal("1800.00")})
    with pytest.raises(StatementError, match=r"opening 500.00 \+ lines 1,314.31 = 1,814.31, but the closing "
                                             r"balance is 1,800.00"):
        parse_statement(write_camt053([wrong]))


def test_ibans_are_checked_and_normalised():
    with pytest.raises(StatementError, match="not a valid IBAN"):
        parse_statement(write_camt053([stmt(LINES, account="GB00WEST12345698765432")]))
    (got,) = parse_statement(write_mt940([stmt(LINES, account="DE89370400440532013000")]))
    assert got.account == "DE89370400440532013000"
    (other,) = parse_statement(write_camt053([stmt(LINES, account="62001234567")]))
    assert other.account == "62001234567"


def test_csv_with_bom_crlf_decimal_comma_and_credit_debit_columns():
    profile = CsvProfile(delimiter=";", decimal=",", thousands=".", date_format="%d.%m.%Y", amount="",
                         credit="Credit", debit="Debit", balance="Balance")
    content = b"\xef\xbb\xbf" + write_csv(stmt(LINES, fmt="csv"), profile)
    assert b"1.234,56" in content and b"\r\n" in content
    (got,) = parse_statement(content, "export.csv", csv_profile=profile, account=IBAN)
    assert [l.amount for l in got.lines] == [l.amount for l in LINES]
    assert (got.opening_balance, got.closing_balance) == (Decimal("500.00"), Decimal("1814.31"))


def test_csv_rows_and_headers_that_do_not_fit_the_layout_are_named():
    content = b"date,amount,reference\n2026-11-02,10.00,a\n02/11/2026,5.00,b\n"
    with pytest.raises(StatementError, match=r"row 3: date '02/11/2026' does not read as %Y-%m-%d"):
        parse_statement(content, "x.csv", account=IBAN)
    with pytest.raises(StatementError, match=r"row 2: amount 'ten' is not an amount"):
        parse_statement(b"date,amount\n2026-11-02,ten\n", "x.csv", account=IBAN)
    with pytest.raises(StatementError, match=r"no column 'amount' \(found: date, value\)"):
        parse_statement(b"date,value\n2026-11-02,1\n", "x.csv", account=IBAN)
    with pytest.raises(StatementError, match="names no account"):
        parse_statement(b"date,amount\n2026-11-02,1\n", "x.csv")


def test_an_empty_or_unknown_file_is_refused():
    with pytest.raises(StatementError, match="empty"):
        parse_statement(b"  \n", "blank.txt")
    with pytest.raises(StatementError, match="not a statement this tool reads"):
        parse_statement(b"\x89PNG\r\n\x1a\n\x00\x00", "picture.png")
    with pytest.raises(StatementError, match="not a valid OFX"):
        parse_statement(b"OFXHEADER:100\r\nDATA:OFXSGML\r\n\r\n<OFX><BROKEN>", "bad.ofx")
