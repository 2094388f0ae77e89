"""The watched folder: dropped statement files are imported, then moved out of the way, refused ones with why."""
from app.connectors.banking.statements import CsvProfile, write_camt053, write_csv
from tests.connectors.banking.conftest import lines
from tests.connectors.banking.test_import import WEEK, statement
from tests.runs.helpers import run_job


def test_files_dropped_in_the_inbox_are_imported_once_and_refused_ones_say_why(app, bank, tmp_path):
    app.config["BANKING_INBOX"] = str(tmp_path)
    (tmp_path / "week.xml").write_bytes(write_camt053([statement("camt053", WEEK[:3])]))
    (tmp_path / "main").mkdir()
    (tmp_path / "main" / "export.csv").write_bytes(write_csv(statement("csv", WEEK[3:]), CsvProfile()))
    (tmp_path / "cut.xml").write_bytes(write_camt053([statement("camt053", WEEK)])[:300])

    run = run_job(app, "banking.scan_inbox")
    assert run.status == "failed" and "1 file(s) rejected" in run.reason
    assert len(lines(app)) == len(WEEK)
    assert sorted(p.name for p in (tmp_path / "imported").iterdir()) == ["export.csv", "week.xml"]
    assert "XML" in (tmp_path / "rejected" / "cut.xml.reason.txt").read_text()
    assert not (tmp_path / "week.xml").exists() and not (tmp_path / "main" / "export.csv").exists()

    again = run_job(app, "banking.scan_inbox")
    assert again.status == "succeeded" and again.summary == "no file waiting"


def test_without_an_inbox_the_scan_does_nothing(app, bank):
    app.config["BANKING_INBOX"] = ""
    run = run_job(app, "banking.scan_inbox")
    assert run.status == "succeeded" and "not set" in run.summary
