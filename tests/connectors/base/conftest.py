"""Fixtures for the connector base: the fake push target, running as its own process."""
import pytest
import requests

from app.connectors.base import FakeSource
from app.fakes.launch import running


@pytest.fixture(scope="session")
def push_target_url():
    with running(FakeSource(server=("-m", "app.fakes.push_target"))) as url:
        yield url


class PushTarget:
    """The fake push target, reached over HTTP: its faults and its truth."""

    def __init__(self, url):
        self.url = url

    def truth(self):
        response = requests.get(f"{self.url}/__fake/truth", timeout=10)
        response.raise_for_status()
        return response.json()

    def keys(self):
        """The keys of the things created, one per creation (a duplicate shows twice)."""
        return sorted(t["key"] for t in self.truth()["things"])

    def faults(self, **faults):
        requests.post(f"{self.url}/__fake/faults", json=faults, timeout=10).raise_for_status()


def push_records(n, changed=(), **data):
    """n records k000…; `changed` keys get new content, `data` sets a key's content outright."""
    rows = [{"key": f"k{i:03d}", "data": f"v{i}{'!' if f'k{i:03d}' in changed else ''}"} for i in range(n)]
    return [{**r, "data": data.get(r["key"], r["data"])} for r in rows]


@pytest.fixture
def push_target(app, push_target_url, executor):
    """A reset fake target, with the app's test push job pointed at it and seven records to send."""
    from tests.connectors.base import push_jobs  # registers the tests.push_* jobs
    requests.post(f"{push_target_url}/__fake/reset", timeout=10).raise_for_status()
    app.config.update(PUSH_TEST_URL=push_target_url, PUSH_TEST_RECORDS=push_records(7))
    push_jobs.RELEASE.clear()
    yield PushTarget(push_target_url)
    push_jobs.RELEASE.set()  # never leave a held send behind
