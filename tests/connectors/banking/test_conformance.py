"""The push conformance suite over Banking's payments stream: matched credit lines posted to the fake
UISP as payments (one per line, found again by providerPaymentId). A posted payment is never updated."""
from collections import Counter

from app.connectors.banking.identity import provider_payment_id
from app.connectors.banking.statements import write_camt053
from tests.connectors.banking.conftest import import_file, lines, open_invoices
from tests.connectors.banking.test_import import statement
from tests.connectors.banking.test_matching_posting import remitted
from tests.connectors.conformance import PushAdapter, PushConformanceSuite

LINES = 20


class PaymentsAdapter(PushAdapter):
    job_id = "banking.post_payments"
    connector, stream = "banking", "payments"
    mid_run_progress = 5
    updates = False

    def prepare(self, request):
        self.app = request.getfixturevalue("app")
        self.fake = request.getfixturevalue("bank")
        # Batches of 5, one in flight: a slowed push is stopped with most lines unsent.
        self.app.config.update(BANKING_POST_BATCH_SIZE=5, BANKING_CONCURRENCY=1)
        self.invoices = open_invoices(self.fake, LINES)
        entries = sorted((remitted(n, inv["cents"], f"INV {inv['number']}") for n, inv in enumerate(self.invoices, 1)),
                         key=lambda e: e.booking_date)
        run = import_file(self.app, write_camt053([statement("camt053", entries)]), "conformance.xml")
        assert run.status == "succeeded", run.reason
        self.keys = {provider_payment_id(line.identity): line.identity for line in lines(self.app)}

    def expected(self, app):
        return LINES

    def target(self, app):
        return {self.keys[p["providerPaymentId"]]: p["amountCents"] for p in self.fake.ours()
                if p["providerPaymentId"] in self.keys}

    def duplicates(self, app):
        counts = Counter(p["providerPaymentId"] for p in self.fake.ours())
        return sorted(pid for pid, n in counts.items() if n > 1)

    def creates(self, app):
        return len(self.fake.ours())

    def change_source(self, app):
        raise AssertionError("not used: a posted payment is not updated")

    def reject_one(self, app):
        line = next(line for line in lines(app) if line.invoices[0]["id"] == self.invoices[3]["id"])
        self.fake.faults(payments_refuse_invoice_ids=[self.invoices[3]["id"]])
        return line.identity

    def break_target(self, app):
        self.fake.faults(error_rate=1.0, error_status=500, fail_path_prefix="/crm/api/v1.0/payments",
                         from_request=8)

    def slow_target(self, app):
        self.fake.faults(latency_ms=300, fail_path_prefix="/crm/api/v1.0/payments")

    def heal_target(self, app):
        self.fake.faults()


class TestBankingPaymentsConformance(PushConformanceSuite):
    adapter = PaymentsAdapter()
