"""Exactly once across a crash: the worker posting payments is SIGKILLed while UISP holds a request it has
already accepted; the run is marked "runner lost"; a rerun on another worker must post every matched line
exactly once (the fake's truth), finding the accepted ones by their providerPaymentId."""
import pytest

from app.connectors.banking.identity import provider_payment_id
from app.connectors.banking.statements import write_camt053
from tests.conftest import requires_postgres, wait_for
from tests.connectors.banking.conftest import KEY, import_file, lines, open_invoices
from tests.connectors.banking.test_import import statement
from tests.connectors.banking.test_matching_posting import remitted
from tests.runs.helpers import get_run, queue
from tests.runs.procs import FAST_ENGINE, procs  # noqa: F401 — the fixture

pytestmark = [requires_postgres, pytest.mark.slow]
STALE = float(FAST_ENGINE["LOCK_STALE_SECONDS"])
LINES = 60


def test_a_worker_killed_mid_posting_then_a_rerun_posts_every_matched_line_exactly_once(app, bank, executor,
                                                                                        procs):
    invoices = open_invoices(bank, LINES)
    entries = sorted((remitted(n, inv["cents"], f"INV {inv['number']}") for n, inv in enumerate(invoices, 1)),
                     key=lambda e: e.booking_date)
    assert import_file(app, write_camt053([statement("camt053", entries)]), "kill.xml").status == "succeeded"
    assert {line.match_status for line in lines(app)} == {"matched"}
    executor.stop()  # from here on only the worker processes run jobs

    env = {"UISP_BASE_URL": bank.base_url, "UISP_APP_KEY": KEY, "UISP_RETRIES": 1, "UISP_RETRY_BACKOFF": 0.01,
           "BANKING_CONCURRENCY": 4}
    bank.faults(latency_ms=20, payments_hang_at=30, payments_hang_ms=60000)
    victim = procs.worker("--no-scheduler", **env)
    run_id, _ = queue(app, "banking.post_payments")
    wait_for(lambda: bank.truth()["posts"] >= 30, timeout=90, interval=0.05,
             message=f"the 30th payment accepted and held\n{procs.tail()}")
    assert get_run(app, run_id).status == "running"
    procs.kill(victim)

    procs.worker("--no-scheduler", **env)
    lost = wait_for(lambda: get_run(app, run_id).status != "running" and get_run(app, run_id), timeout=STALE + 30,
                    interval=0.1, message="the killed run to be failed")
    assert (lost.status, lost.reason) == ("failed", "runner lost")
    accepted_before = len(bank.ours())  # requests the fake held when the worker died have landed by now
    assert 30 <= accepted_before < LINES

    bank.faults()
    rerun_id, _ = queue(app, "banking.post_payments")
    rerun = wait_for(lambda: get_run(app, rerun_id).status in ("succeeded", "failed") and get_run(app, rerun_id),
                     timeout=120, interval=0.1, message=f"the rerun to end\n{procs.tail()}")
    assert rerun.status == "succeeded", rerun.reason
    expected = {provider_payment_id(line.identity) for line in lines(app)}
    assert bank.by_provider_id() == dict.fromkeys(expected, 1)
    assert rerun.counters.get("pushed", 0) == LINES - accepted_before
