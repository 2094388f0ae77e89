"""The connector conformance suite, run over UISP's refresh against the fake UISP."""
from tests.connectors.conformance import Adapter, SnapshotConformanceSuite
from tests.connectors.uisp.test_refresh import cache_rows


class UispAdapter(Adapter):
    job_id = "uisp.refresh"
    mid_run_progress = 5  # pages staged

    def prepare(self, request):
        self.fake = request.getfixturevalue("uisp")
        request.getfixturevalue("executor")

    def cache(self, app):
        return cache_rows(app)

    def change_source(self, app):
        self.fake.post(f"invoices/{self.fake.get('/invoices', statuses=[1], limit=1)[0]['id']}/pay")

    def break_source(self, app):
        self.fake.faults(fail_path_prefix="/crm/api/v1.0/invoices", from_request=3, error_rate=1.0, error_status=500)

    def slow_source(self, app):
        self.fake.faults(latency_ms=150, fail_path_prefix="/crm/api/v1.0/invoices")

    def heal_source(self, app):
        self.fake.faults()


class TestUispConformance(SnapshotConformanceSuite):
    adapter = UispAdapter()
