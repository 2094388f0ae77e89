"""Statement import: whole or not at all, and without duplicates across re-imports and formats."""
from decimal import Decimal

from sqlalchemy import func, select

from app.auth.models import Activity as ActivityLog
from app.connectors.banking.models import BankImport, BankLine
from app.connectors.banking.statements import CsvProfile, Line, Statement, write_camt053, write_csv, write_mt940
from app.extensions import db
from tests.connectors.banking.conftest import IBAN, add_account, day, import_file, lines


def credit(n, amount, ref=None, name="Thabo Nkosi", text="Payment", **extra):
    return Line(booking_date=day(n), value_date=day(n), amount=Decimal(amount), currency="ZAR",
                bank_reference=ref if ref is not None else f"BANKREF{n:03d}{amount.replace('.', '')}", name=name,
                remittance=text, **extra)


def statement(fmt, entries, opening="1000.00", statement_id="S1", account=IBAN):
    opening = Decimal(opening)
    closing = opening + sum((e.amount for e in entries), Decimal("0"))
    return Statement(format=fmt, account=account, currency="ZAR", statement_id=statement_id,
                     opening_balance=opening, opening_date=entries[0].booking_date, closing_balance=closing,
                     closing_date=entries[-1].booking_date, lines=tuple(entries))


WEEK = [credit(0, "100.00"), credit(1, "250.50"), credit(2, "-30.00", name="Bank", text="Fees"),
        credit(3, "399.90"), credit(4, "58.50"), credit(5, "149.00")]


def imports(app):
    with app.app_context():
        found = db.session.scalars(select(BankImport).order_by(BankImport.id)).all()
        db.session.expunge_all()
        return found


def test_the_same_camt_twice_then_an_overlapping_mt940_stores_each_line_once(app, bank):
    camt = write_camt053([statement("camt053", WEEK[:4])])
    assert import_file(app, camt, "week.xml").status == "succeeded"
    assert import_file(app, camt, "week-again.xml").status == "succeeded"
    overlap = statement("mt940", WEEK[2:], opening=str(Decimal("1000.00") + sum(e.amount for e in WEEK[:2])))
    run = import_file(app, write_mt940([overlap]), "overlap.sta")
    assert run.status == "succeeded", run.reason

    stored = lines(app)
    assert len(stored) == len(WEEK) == len({line.identity for line in stored})
    assert sorted(line.amount for line in stored) == sorted(e.amount for e in WEEK)
    assert [line.match_status for line in stored if line.amount < 0] == ["debit"]  # money out: not a payment
    first, again, third = imports(app)
    assert (first.lines_new, first.lines_duplicate) == (4, 0)
    assert (again.lines_new, again.lines_duplicate) == (0, 4)
    assert (third.format, third.lines_new, third.lines_duplicate) == ("mt940", 2, 2)


def test_two_real_same_day_same_amount_lines_without_bank_ids_both_stay_and_stay_once(app, bank):
    twins = [credit(0, "99.00", ref="", text="School fees"), credit(0, "99.00", ref="", text="School fees"),
             credit(1, "10.00", ref="")]
    content = write_csv(statement("csv", twins), CsvProfile())
    assert import_file(app, content, "twins.csv", account="main").status == "succeeded"
    assert import_file(app, content, "twins-again.csv", account="main").status == "succeeded"
    assert [line.amount for line in lines(app)] == [Decimal("99.00"), Decimal("99.00"), Decimal("10.00")]
    assert imports(app)[1].lines_duplicate == 3


def test_a_truncated_camt_is_rejected_whole_and_nothing_is_imported(app, bank):
    camt = write_camt053([statement("camt053", WEEK)])
    run = import_file(app, camt[: len(camt) * 2 // 3], "cut.xml")
    assert run.status == "failed"
    assert "rejected, nothing imported" in run.reason and "XML" in run.reason
    assert lines(app) == []
    (record,) = imports(app)
    assert record.status == "rejected" and record.lines_new == 0 and "XML" in record.reason


def test_a_bad_61_line_rejects_the_whole_mt940(app, bank):
    text = write_mt940([statement("mt940", WEEK)]).decode()
    broken = text.replace(f":61:{day(3):%y%m%d}", ":61:26AB31", 1)
    assert broken != text
    run = import_file(app, broken.encode(), "broken.sta")
    assert run.status == "failed" and ":61:" in run.reason
    assert lines(app) == []
    assert imports(app)[0].status == "rejected"


def test_balances_that_do_not_chain_and_an_unknown_account_are_rejected_with_the_reason(app, bank):
    bad = statement("camt053", WEEK[:2])
    bad = Statement(**{**bad.__dict__, "closing_balance": bad.closing_balance + 1})
    run = import_file(app, write_camt053([bad]), "wrong-balance.xml")
    assert run.status == "failed" and "closing" in run.reason.lower()
    other = statement("camt053", WEEK[:2], account="DE89370400440532013000")
    run = import_file(app, write_camt053([other]), "other.xml")
    assert run.status == "failed" and "DE89370400440532013000" in run.reason and "not one of ours" in run.reason
    assert lines(app) == []
    assert [i.status for i in imports(app)] == ["rejected", "rejected"]


def test_a_csv_export_with_bom_crlf_and_decimal_comma_imports_for_its_account(app, bank):
    with app.app_context():
        add_account("savings", "DE89370400440532013000", csv_delimiter=";", csv_decimal=",", csv_thousands=".",
                    csv_date_format="%d.%m.%Y")
    profile = CsvProfile(delimiter=";", decimal=",", thousands=".", date_format="%d.%m.%Y")
    entries = [credit(0, "1234.56", ref=""), credit(1, "-7.50", ref="")]
    content = write_csv(statement("csv", entries, account="DE89370400440532013000"), profile)
    content = b"\xef\xbb\xbf" + content.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    run = import_file(app, content, "savings.csv", account="savings")
    assert run.status == "succeeded", run.reason
    assert [line.amount for line in lines(app)] == [Decimal("1234.56"), Decimal("-7.50")]


def test_imports_are_audited_and_listed_with_their_counts(app, bank, admin):
    camt = write_camt053([statement("camt053", WEEK[:3])])
    import_file(app, camt, "audited.xml")
    import_file(app, camt[:100], "cut.xml")
    with app.app_context():
        actions = db.session.scalars(select(ActivityLog.action).where(
            ActivityLog.action.in_(("statement_imported", "statement_rejected")))).all()
    assert sorted(actions) == ["statement_imported", "statement_rejected"]
    page = admin.client.get("/banking/imports").get_data(as_text=True)
    assert "audited.xml" in page and "cut.xml" in page and "rejected" in page
    exported = admin.client.get("/banking/imports?format=csv").get_data(as_text=True)
    assert exported.splitlines()[0].startswith("id,created_at,filename")
    assert len(exported.strip().splitlines()) == 3


def test_uploading_through_the_page_queues_the_import_and_the_browser_does_not_wait(app, bank, admin):
    import io
    camt = write_camt053([statement("camt053", WEEK[:2])])
    response = admin.post("/banking/imports", data={"param_statement": (io.BytesIO(camt), "upload.xml"),
                                                    "account": ""}, content_type="multipart/form-data")
    assert response.status_code == 303
    from tests.runs.helpers import latest_run, wait_status
    run = wait_status(app, latest_run(app, "banking.import_statement").id, "succeeded", "failed", timeout=60)
    assert run.status == "succeeded", run.reason
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BankLine)) == 2
    empty = admin.post("/banking/imports", data={}, content_type="multipart/form-data", follow_redirects=True)
    assert "Choose a statement file" in empty.get_data(as_text=True)
    json = admin.post("/banking/imports", data={}, content_type="multipart/form-data",
                      headers={"Accept": "application/json"})
    assert json.status_code == 400 and "Choose a statement file" in json.get_json()["error"]
