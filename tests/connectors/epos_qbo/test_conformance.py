"""The push conformance suite over EPOS→QBO receipts of one company and trading date, against the fake
EPOS Now + QuickBooks pair. The connector keeps its own ledger (a claimed row per EPOS transaction)
and retries a refused receipt by itself at the next run; a posted sale is never updated."""
from collections import Counter
from datetime import date

from sqlalchemy import func, select

from app.connectors.epos_qbo.models import EposQboReceipt
from app.extensions import db
from tests.connectors.conformance import PushAdapter, PushConformanceSuite
from tests.connectors.epos_qbo.conftest import realm

DAY = date(2026, 3, 26)
PREFIX = "EPOS-"


class ReceiptsAdapter(PushAdapter):
    job_id = "epos_qbo.sync_company"
    params = {"company": "co01", "date": DAY.isoformat()}
    connector, stream = "epos_qbo", "receipts"
    mid_run_progress = 10
    updates = False

    def prepare(self, request):
        self.app = request.getfixturevalue("app")
        self.fake = request.getfixturevalue("epos_qbo")
        # Batches of 5 at one in flight: a slowed push is stopped with most of the day unsent.
        self.app.config.update(QBO_BATCH_SIZE=5, QBO_CONCURRENCY=1, QBO_RETRIES=1)

    def _receipts(self):
        return [r for r in self.fake.truth(1)["receipts"] if r["DocNumber"].startswith(PREFIX)]

    def expected(self, app):
        return self.fake.epos_truth(1, DAY)["count"]

    def target(self, app):
        return {r["DocNumber"][len(PREFIX):]: r["TotalAmt"] for r in self._receipts()}

    def duplicates(self, app):
        return sorted(doc for doc, n in Counter(r["DocNumber"] for r in self._receipts()).items() if n > 1)

    def creates(self, app):
        return len(self._receipts())

    def change_source(self, app):
        raise AssertionError("not used: a posted receipt is not updated")

    def reject_one(self, app):
        epos_id = self.fake.add_sales(1, [{"DateTime": f"{DAY}T14:00:00", "TotalAmount": 7.5,
                                           "TransactionType": "Sale", "StatusId": 1}])[0]
        self.fake.qbo_faults(realm=realm(1), reject_doc=[f"{PREFIX}{epos_id}"])
        return str(epos_id)

    def break_target(self, app):
        self.fake.qbo_faults(realm=realm(1), fail_next=10_000, status=500)

    def slow_target(self, app):
        self.fake.qbo_faults(realm=realm(1), latency_ms=500)

    def heal_target(self, app):
        self.fake.qbo_faults()

    def synced(self, app):
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(EposQboReceipt).where(
                EposQboReceipt.company == "co01", EposQboReceipt.status == "synced"))

    def retry(self, app, key):
        # A refused receipt is tried again by the next run of its day: nothing to press.
        with app.app_context():
            row = db.session.scalar(select(EposQboReceipt).where(EposQboReceipt.company == "co01",
                                                                 EposQboReceipt.epos_id == key))
            return 1 if row is not None and row.status == "failed" else 0

    def pushed(self, run):
        return run.rows_inserted


class TestEposQboReceiptsConformance(PushConformanceSuite):
    adapter = ReceiptsAdapter()
