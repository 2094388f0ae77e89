"""The statement readers and writers, as pure functions over real files of each format."""
from datetime import date
from decimal import Decimal
from pathlib import Path

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


# --- the sample files: hand-written as the banks write them ----------------------------------------------------

FILES = Path(__file__).parent / "files"
D = Decimal
GERMAN_CSV = CsvProfile(delimiter=";", decimal=",", thousands=".", date_format="%d.%m.%Y", date="Buchungstag",
                        value_date="Valuta", amount="Betrag", currency="Währung", reference="Referenz",
                        bank_reference="Bankreferenz", name="Name", description="Verwendungszweck", balance="Saldo")


def sample(name):
    return (FILES / name).read_bytes()


def balances(statements):
    return [(s.statement_id, s.opening_balance, s.closing_balance) for s in statements]


def test_camt053_001_02_sample_reads_two_chained_statements():
    statements = parse_statement(sample("camt053_001_02.xml"), "camt053_001_02.xml")
    assert [s.format for s in statements] == ["camt053", "camt053"]
    assert {(s.account, s.currency) for s in statements} == {("DE89370400440532013000", "EUR")}
    assert balances(statements) == [("0352C5320211103000000000", D("1000.00"), D("2404.50")),
                                    ("0352C5320211104000000000", D("2404.50"), D("2500.00"))]
    assert (statements[0].opening_date, statements[0].closing_date) == (date(2026, 11, 1), date(2026, 11, 3))
    first, fee, bulk = statements[0].lines
    assert first == Line(booking_date=date(2026, 11, 2), value_date=date(2026, 11, 2), amount=D("250.00"),
                         currency="EUR", bank_reference="2026110200001", end_to_end_id="E2E-2026-0042",
                         reference="INSTR-0042", name="Lerato Dlamini", counterparty_account="DE02120300000000202051",
                         remittance="Rechnung INV-2026-0042 Kundennummer 10042")
    # a debit: the creditor's name; no entry-level AcctSvcrRef: the transaction's; NOTPROVIDED is no id
    assert (fee.amount, fee.name, fee.bank_reference, fee.end_to_end_id) == (D("-45.50"), "Commerzbank AG",
                                                                             "TX-2026110300002", "")
    # BookgDt/DtTm, a structured creditor reference and no Ustrd
    assert (bulk.booking_date, bulk.value_date, bulk.reference, bulk.remittance) == (
        date(2026, 11, 3), date(2026, 11, 4), "RF18539007547034", "")
    assert [l.amount for l in statements[1].lines] == [D("99.99"), D("-4.49")]


def test_camt053_001_08_sample_with_other_account_id_and_party_names():
    statements = parse_statement(sample("camt053_001_08.xml"))
    assert [(s.account, s.currency) for s in statements] == [("62001234567", "ZAR")] * 2
    assert balances(statements) == [("62001234567-2026-11-03", D("-150.00"), D("699.00")),  # DBIT opening
                                    ("62001234567-2026-11-04", D("699.00"), D("654.00"))]
    credit = statements[0].lines[0]
    assert (credit.booking_date, credit.name, credit.reference, credit.end_to_end_id, credit.counterparty_account) \
        == (date(2026, 11, 3), "Lerato Dlamini", "PAY-10042", "E2E-ZA-10042", "1234567890")
    assert statements[1].lines[0].name == "First National Bank"


def test_mt940_sample_two_statements_structured_and_free_86():
    statements = parse_statement(sample("mt940_two_statements.sta"), "x.sta")
    assert [s.statement_id for s in statements] == ["STMT-2026-11-A/00311/001", "STMT-2026-11-B/00312/001"]
    assert balances(statements)[1][1:] == (D("1204.50"), D("1304.49"))
    assert {s.account for s in statements} == {"DE89370400440532013000"}
    gvc, fee = statements[0].lines
    # ?20-?29 purpose (split over two file lines) decoded, ?31 IBAN, ?32 name; NONREF is no reference
    assert (gvc.amount, gvc.bank_reference, gvc.reference, gvc.end_to_end_id, gvc.name, gvc.counterparty_account,
            gvc.remittance) == (D("250.00"), "BK-0001", "", "E2E-2026-0042", "Lerato Dlamini",
                                "DE02120300000000202051", "Rechnung INV-2026-0042 Kundennummer 10042")
    assert (fee.amount, fee.reference, fee.remittance) == (D("-45.50"), "KD-7781",
                                                           "Kontofuehrungsgebuehr November Paket Business")
    (sepa,) = statements[1].lines
    assert (sepa.reference, sepa.end_to_end_id, sepa.name, sepa.remittance) == (
        "INV-2026-0050", "E2E-2026-0050", "Thabo Nkosi", "Invoice INV-2026-0050 thank you")


def test_mt940_in_a_swift_envelope():
    body = sample("mt940_two_statements.sta").decode("latin-1")
    wrapped = "{1:F01COBADEFFAXXX0000000000}{2:O9400000261105COBADEFFAXXX00000000002611050000N}{4:\r\n" + \
        body.rstrip("-\r\n") + "\r\n-}"
    assert detect_format(wrapped.encode()) == "mt940"
    assert [len(s.lines) for s in parse_statement(wrapped.encode())] == [2, 1]


def test_ofx1_sgml_sample():
    (statement,) = parse_statement(sample("ofx1_sgml.ofx"), "bank.qfx")
    assert (statement.format, statement.account, statement.currency) == ("ofx", "4100012345", "USD")
    assert statement.statement_id.startswith("121000248:4100012345:")
    # LEDGERBAL is the closing balance; the opening is derived from it
    assert (statement.opening_balance, statement.closing_balance) == (D("1500.50"), D("1598.34"))
    credit, check, late = statement.lines
    assert (credit.fitid, credit.name, credit.remittance, credit.amount) == ("2026110201", "ACME WIDGETS",
                                                                           "Invoice 1001", D("150.00"))
    assert (check.reference, check.remittance) == ("1044", "CITY WATER")  # CHECKNUM; NAME when no MEMO
    # posted 23:00 New York time: still the 4th (not the UTC 5th)
    assert (late.booking_date, late.reference, late.amount) == (date(2026, 11, 4), "REF-77", D("-9.99"))


def test_ofx2_xml_sample():
    (statement,) = parse_statement(sample("ofx2_xml.ofx"))
    assert (statement.account, statement.currency, statement.closing_date) == ("62001234567", "ZAR",
                                                                               date(2026, 11, 4))
    assert (statement.opening_balance, statement.closing_balance) == (D("1000.00"), D("1804.00"))
    credit, fee = statement.lines
    assert (credit.booking_date, credit.value_date, credit.fitid, credit.reference, credit.remittance) == (
        date(2026, 11, 1), date(2026, 11, 2), "FNB-20261101-0001", "PAY-10042", "INV 2026-0042")
    assert fee.amount == D("-45.00")


def test_csv_sample_bom_crlf_semicolon_decimal_comma_quotes():
    content = sample("statement_semicolon.csv")
    assert content.startswith(b"\xef\xbb\xbf") and b"\r\n\r\n" in content
    (statement,) = parse_statement(content, "export.csv", csv_profile=GERMAN_CSV,
                                   account="de89 3704 0044 0532 0130 00")
    assert statement.account == "DE89370400440532013000"
    assert (statement.currency, statement.opening_balance, statement.closing_balance) == ("EUR", D("1000.00"),
                                                                                          D("1204.50"))
    assert [l.amount for l in statement.lines] == [D("1250.00"), D("-45.50"), D("-1000.00")]
    first, _, rent = statement.lines
    assert first.remittance == "Rechnung INV-2026-0042; Kunde 10042"  # the delimiter inside quotes
    assert (rent.name, rent.remittance, rent.value_date) == ("Müller, Hans", 'Miete "November"', date(2026, 11, 5))
    # the same export from an older system, in Windows-1252
    legacy = content[3:].decode("utf-8").encode("cp1252")
    (again,) = parse_statement(legacy, "export.csv", csv_profile=GERMAN_CSV, account="DE89370400440532013000")
    assert again.lines == statement.lines


def test_csv_sniffed_delimiter_and_a_broken_running_balance():
    profile = CsvProfile(delimiter="auto", balance="balance")
    good = b"date|amount|balance\r\n2026-11-02|10.00|110.00\r\n2026-11-03|-5.00|105.00\r\n"
    (statement,) = parse_statement(good, "x.csv", csv_profile=profile, account="62001234567")
    assert (statement.opening_balance, statement.closing_balance) == (D("100.00"), D("105.00"))
    with pytest.raises(StatementError, match=r"row 3: the balance column says 104.00, the amounts add up to 105.00"):
        parse_statement(good.replace(b"105.00", b"104.00"), "x.csv", csv_profile=profile, account="62001234567")


# --- refusals: the where and the why ----------------------------------------------------------------------------

def mt940_text():
    return sample("mt940_two_statements.sta").decode("latin-1")


@pytest.mark.parametrize("good,bad,why", [
    (":61:2611031103D45,50", ":61:2613311103D45,50", r"line 9: bad :61: line '2613311103D45,50.*bad date '261331'"),
    (":61:2611031103D45,50", ":61:2611031103D", r"line 9: bad :61: line .*no amount"),
    (":61:2611031103D45,50", ":61:2611031103X45,50", r"line 9: bad :61: line .*bad D/C mark 'X4'"),
    (":61:2611021102CR250,00", ":61:26110211CR250,00", r"line 5: bad :61: line .*bad D/C mark '11'"),
])
def test_a_bad_61_line_names_its_file_line(good, bad, why):
    with pytest.raises(StatementError, match=why):
        parse_statement(mt940_text().replace(good, bad).encode())


@pytest.mark.parametrize("tag,label", [(":25:", r":25: \(account\)"), (":60F:", r":60F: \(opening balance\)"),
                                       (":62F:", r":62F: \(closing balance\)")])
def test_a_missing_mandatory_mt940_tag_is_named(tag, label):
    text = mt940_text()
    first, rest = text.split("-\r\n", 1)
    first = "\r\n".join(l for l in first.split("\r\n") if not l.startswith(tag))
    with pytest.raises(StatementError, match=rf"statement STMT-2026-11-A \(line 1\): no {label} tag"):
        parse_statement((first + "-\r\n" + rest).encode())


def test_mt940_intermediate_balances_60m_62m_are_accepted():
    text = mt940_text().replace(":62F:C261103", ":62M:C261103").replace(":60F:C261103", ":60M:C261103")
    assert balances(parse_statement(text.encode()))[1][1:] == (D("1204.50"), D("1304.49"))


def test_sample_statements_that_do_not_chain_are_refused():
    text = mt940_text().replace(":60F:C261103EUR1204,50", ":60F:C261103EUR1204,00").replace(
        ":62F:C261104EUR1304,49", ":62F:C261104EUR1303,99")
    with pytest.raises(StatementError, match=r"STMT-2026-11-B/00312/001 of account DE89370400440532013000 opens at "
                                             r"1,204.00, but the statement before it .* closed at 1,204.50"):
        parse_statement(text.encode())
    camt = sample("camt053_001_02.xml").replace(b"<Amt Ccy=\"EUR\">2500.00</Amt>", b"<Amt Ccy=\"EUR\">2400.00</Amt>")
    with pytest.raises(StatementError, match=r"statement 0352C5320211104000000000 of account DE89370400440532013000: "
                                             r"opening 2,404.50 \+ lines 95.50 = 2,500.00, but the closing balance "
                                             r"is 2,400.00"):
        parse_statement(camt)


def test_pain001_and_camt054_are_named():
    camt = sample("camt053_001_02.xml")
    pain = camt.replace(b"camt.053.001.02", b"pain.001.001.03")
    assert detect_format(pain) == "xml"
    with pytest.raises(StatementError, match="pain.001.001.03, not a camt.053 bank statement"):
        parse_statement(pain)
    with pytest.raises(StatementError, match="camt.054.001.08, not a camt.053"):
        parse_statement(sample("camt053_001_08.xml").replace(b"camt.053.001.08", b"camt.054.001.08"))
    with pytest.raises(StatementError, match=r"root <Invoice>\) is not an ISO 20022 bank statement"):
        parse_statement(b"<?xml version='1.0'?><Invoice><Id>1</Id></Invoice>")


def test_truncated_sample_xml_names_the_line():
    content = sample("camt053_001_02.xml")
    with pytest.raises(StatementError, match=r"not well-formed XML at line \d+: .*truncated or corrupt"):
        parse_statement(content[:content.index(b"<Ntry>") + 40])


def test_a_line_in_another_currency_is_refused():
    camt = sample("camt053_001_08.xml").replace(b'<Amt Ccy="ZAR">45.00</Amt>', b'<Amt Ccy="USD">45.00</Amt>')
    with pytest.raises(StatementError, match="entry 1 of statement 62001234567-2026-11-04 is in USD, the statement "
                                             "in ZAR"):
        parse_statement(camt)
    csv_file = b"date,amount,currency\n2026-11-02,1.00,ZAR\n2026-11-03,2.00,EUR\n"
    with pytest.raises(StatementError, match="entry 2 .* is in EUR, the statement in ZAR"):
        parse_statement(csv_file, "x.csv", csv_profile=CsvProfile(currency="currency"), account="62001234567")


@pytest.mark.parametrize("iban,why", [("DE88370400440532013000", "checksum"), ("DE8937040044053201300", "length"),
                                      ("XX89370400440532013000", "country")])
def test_an_iban_that_fails_says_why(iban, why):
    text = mt940_text().replace("DE89370400440532013000", iban)
    with pytest.raises(StatementError, match=rf"account {iban} is not a valid IBAN: .*{why}"):
        parse_statement(text.encode())


def test_an_unknown_text_file_and_a_malformed_sgml_ofx_are_refused():
    with pytest.raises(StatementError, match="not a statement this tool reads"):
        parse_statement(b"Dear customer\nyour statement is attached\n", "letter.txt")
    broken = sample("ofx1_sgml.ofx").replace(b"<TRNAMT>-42.17", b"<TRNAMT>forty-two")
    with pytest.raises(StatementError, match=r"not a valid OFX statement: .*forty-two"):
        parse_statement(broken)


def test_samples_round_trip_through_every_writer():
    camt = parse_statement(sample("camt053_001_02.xml"))
    for version in ("001.02", "001.08"):
        again = parse_statement(write_camt053(camt, version=version))
        assert [s.lines for s in again] == [s.lines for s in camt] and balances(again) == balances(camt)
    mt = parse_statement(sample("mt940_two_statements.sta"))
    again = parse_statement(write_mt940(mt))
    assert [s.lines for s in again] == [s.lines for s in mt] and balances(again) == balances(mt)
    for name in ("ofx1_sgml.ofx", "ofx2_xml.ofx"):
        (ofx,) = parse_statement(sample(name))
        for version in (1, 2):
            (back,) = parse_statement(write_ofx(ofx, version=version))
            assert back.lines == ofx.lines
            assert (back.opening_balance, back.closing_balance) == (ofx.opening_balance, ofx.closing_balance)
    (csv_statement,) = parse_statement(sample("statement_semicolon.csv"), csv_profile=GERMAN_CSV,
                                       account="DE89370400440532013000")
    (back,) = parse_statement(write_csv(csv_statement, GERMAN_CSV), csv_profile=GERMAN_CSV,
                              account="DE89370400440532013000")
    assert back.lines == csv_statement.lines
