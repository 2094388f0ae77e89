"""The push conformance suite over the test push job and the fake push target."""
from collections import Counter

from tests.conftest import wait_for
from tests.connectors.base import push_jobs
from tests.connectors.base.conftest import push_records
from tests.connectors.conformance import PushAdapter, PushConformanceSuite

N = 7


class ThingsAdapter(PushAdapter):
    job_id = "tests.push_things"
    connector, stream = "tests", "things"
    mid_run_progress = 3  # the first batch

    def prepare(self, request):
        self.fake = request.getfixturevalue("push_target")
        self.app = request.getfixturevalue("app")

    def expected(self, app):
        return N

    def target(self, app):
        return {t["key"]: t["data"] for t in self.fake.truth()["things"]}

    def duplicates(self, app):
        return sorted(k for k, n in Counter(self.fake.keys()).items() if n > 1)

    def creates(self, app):
        return len(self.fake.keys())

    def change_source(self, app):
        app.config["PUSH_TEST_RECORDS"] = push_records(N, changed=("k003",))
        return "k003"

    def reject_one(self, app):
        self.fake.faults(reject_keys=["k002"])
        return "k002"

    def break_target(self, app):
        self.fake.faults(fail_from=4)

    def slow_target(self, app):
        # The fifth record waits in send() until released: the run is stopped inside its second batch.
        app.config["PUSH_TEST_RECORDS"] = push_records(N, k004=push_jobs.HOLD)

    def release(self, app):
        wait_for(lambda: push_jobs.RUNNING["ctx"].cancelled_by, message="the runner to see the Terminate")
        push_jobs.RELEASE.set()

    def heal_target(self, app):
        self.fake.faults()
        app.config["PUSH_TEST_RECORDS"] = push_records(N)


class TestPushShapeConformance(PushConformanceSuite):
    adapter = ThingsAdapter()
