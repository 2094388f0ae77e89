"""The connector conformance suite, run over the bill-stop batch against the fake CC&B."""
from sqlalchemy import select

from app import settings
from app.connectors.billing_db.models import BillStopBatch, BillStopDetail, BillStopSummary
from app.extensions import db
from tests.connectors.conformance import Adapter, SnapshotConformanceSuite


class BillingAdapter(Adapter):
    job_id = "billing.bill_stop_batch"
    mid_run_progress = 300  # CPC rows streamed

    def prepare(self, request):
        self.url = request.getfixturevalue("billing")
        request.getfixturevalue("executor")
        self.tmp = request.getfixturevalue("tmp_path")

    def cache(self, app):
        """The visible batch's summary and details, as the analysis page shows them (batch ids aside)."""
        with app.app_context():
            batch = db.session.scalars(select(BillStopBatch).where(BillStopBatch.status == "completed")
                                       .order_by(BillStopBatch.id.desc())).first()
            if batch is None:
                return {"summary": [], "details": []}
            summary = [tuple(r)[1:] for r in db.session.execute(
                select(BillStopSummary.__table__).where(BillStopSummary.batch_id == batch.id)
                .order_by(BillStopSummary.crp_account_no))]
            details = [tuple(r)[1:] for r in db.session.execute(
                select(BillStopDetail.__table__).where(BillStopDetail.batch_id == batch.id)
                .order_by(BillStopDetail.cpc_customer_no))]
            db.session.rollback()
            return {"summary": summary, "details": details}

    def change_source(self, app):
        # A narrower window selects other CPCs: a batch that published would show it.
        with app.app_context():
            settings.put("billing_window_days", 1)
            db.session.commit()
        settings._CACHE.clear()

    def break_source(self, app):
        app.config.update(BILLING_DB_URL=f"sqlite:///{self.tmp}/no-ccb-tables.db")

    def slow_source(self, app):
        app.config.update(BILLING_CHUNK_ROWS=100, BILLING_CHUNK_PAUSE_SECONDS=0.05)

    def heal_source(self, app):
        app.config.update(BILLING_DB_URL=self.url, BILLING_CHUNK_ROWS=200, BILLING_CHUNK_PAUSE_SECONDS=0)


class TestBillingConformance(SnapshotConformanceSuite):
    adapter = BillingAdapter()
