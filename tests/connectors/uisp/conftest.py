"""Fixtures for the UISP connector: a real fake UISP server and an app pointed at it."""
import pytest

from tests.fakes.servers import FakeControls, fake_uisp
from tests.runs.helpers import run_job

KEY = "uisp-test-key"
RO_KEY = "uisp-read-only"
N_CLIENTS = 300


@pytest.fixture(scope="session")
def uisp_server():
    with fake_uisp(N_CLIENTS, KEY, "--read-only-key", RO_KEY) as root:
        yield FakeControls(root, KEY)


@pytest.fixture
def uisp(app, uisp_server):
    """The fake UISP with its generated data restored and no faults; the app configured for it."""
    uisp_server.reset()
    app.config.update(UISP_BASE_URL=uisp_server.base_url, UISP_APP_KEY=KEY, UISP_RETRY_BACKOFF=0.01,
                      UISP_RETRIES=2, UISP_TIMEOUT=30, UISP_PAGE_SIZE=100)
    yield uisp_server
    uisp_server.faults()


@pytest.fixture
def refreshed(app, uisp, executor):
    """A cache filled by one successful uisp.refresh."""
    run = run_job(app, "uisp.refresh")
    assert run.status == "succeeded", run.reason
    return run
