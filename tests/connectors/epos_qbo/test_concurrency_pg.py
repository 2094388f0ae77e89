"""Two runs of one company at once, in two worker processes on PostgreSQL, both needing a new access
token: Intuit's rotation kills the refresh token each refresh uses, so a run that refreshed with one the
other had already spent would lock the company out. Neither may; and no receipt may be posted twice."""
import sys
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select

from app.connectors.base.connections import get_connection, read_secrets
from app.connectors.epos_qbo.models import EposQboReceipt
from app.connectors.epos_qbo.tokens import TokenKeeper
from app.extensions import db
from tests.conftest import requires_postgres, wait_for
from tests.connectors.epos_qbo.conftest import epos_qbo_config, realm
from tests.runs.helpers import get_run, queue
from tests.runs.procs import procs  # noqa: F401 — the fixture

pytestmark = [requires_postgres, pytest.mark.slow]
DAY = date(2026, 3, 25)


def _env(app, fakes):
    # The children decrypt the companies' secrets written here: same SECRET_KEY, same derived key.
    return {**epos_qbo_config(fakes), "SECRET_KEY": app.config["SECRET_KEY"], "QBO_BATCH_SIZE": 5,
            "QBO_CONCURRENCY": 2}


def _ended(app, run_id):
    run = get_run(app, run_id)
    return run if run.status in ("succeeded", "failed", "cancelled") else None


def test_two_concurrent_runs_of_one_company_never_lock_it_out_nor_post_twice(app, epos_qbo_target, procs):
    fakes = epos_qbo_target
    fakes.advance_clock(3700)  # every starting access token has expired: both runs must refresh
    fakes.qbo_faults(realm=realm(1), latency_ms=200)  # long enough for the two runs to overlap
    env = _env(app, fakes)
    procs.worker("--no-scheduler", **env)
    procs.worker("--no-scheduler", **env)
    everyone, _ = queue(app, "epos_qbo.sync_all", {"date": DAY.isoformat()})
    one, _ = queue(app, "epos_qbo.sync_company", {"company": "co01", "date": DAY.isoformat()})
    runs = [wait_for(lambda r=r: _ended(app, r), timeout=120, interval=0.1, message=f"run {r}\n{procs.tail()}")
            for r in (everyone, one)]
    assert [r.status for r in runs] == ["succeeded", "succeeded"], [r.reason for r in runs]
    first, second = runs
    assert first.started_at < second.finished_at and second.started_at < first.finished_at, "they overlapped"

    docs = Counter(r["DocNumber"] for r in fakes.truth(1)["receipts"])
    assert docs and max(docs.values()) == 1
    assert sum(docs.values()) == fakes.epos_truth(1, DAY)["count"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(EposQboReceipt).where(
            EposQboReceipt.company == "co01", EposQboReceipt.status != "synced")) == 0
        conn = get_connection("epos_qbo", "co01")
        keeper = TokenKeeper(conn.id, conn.label, app.config["QBO_TOKEN_URL"], app.config["QBO_CLIENT_ID"],
                             app.config["QBO_CLIENT_SECRET"])
        stored = read_secrets(conn)["qbo_access_token"]
        keeper.renewed(stale=stored)  # the stored refresh token is the live one: it refreshes again
        db.session.commit()
    assert fakes.truth(1)["refreshes"] >= 2


def test_many_forced_refreshes_from_two_processes_all_succeed(app, epos_qbo_target, procs):
    fakes = epos_qbo_target
    env = _env(app, fakes)
    children = [procs.start([sys.executable, "-m", "tests.connectors.epos_qbo.refresher", "co01", "15"], f"refresher{n}",
                            **env) for n in range(2)]
    codes = [wait_for(lambda c=c: c.poll() is not None and (c.returncode,), timeout=120, interval=0.1,
                      message=f"refresher\n{procs.tail()}")[0] for c in children]
    assert codes == [0, 0], procs.tail()
    refreshes = fakes.truth(1)["refreshes"]
    assert 15 <= refreshes <= 30  # each forced renewal refreshed, or used the one the other had just stored


def test_a_worker_killed_after_qbo_accepted_receipts_then_a_rerun_posts_none_twice(app, epos_qbo_target, procs):
    fakes = epos_qbo_target
    # QBO stores every batch and then answers 500: the worker keeps resending (same request ids) until killed.
    fakes.qbo_faults(realm=realm(1), accept_then_fail_next=10_000)
    env = {**_env(app, fakes), "QBO_RETRIES": 50}
    victim = procs.worker("--no-scheduler", **env)
    run_id, _ = queue(app, "epos_qbo.sync_company", {"company": "co01", "date": DAY.isoformat()})
    wait_for(lambda: fakes.doc_numbers(1), timeout=60, interval=0.05, message=f"QBO to accept\n{procs.tail()}")
    procs.kill(victim)
    accepted = set(fakes.doc_numbers(1))
    with app.app_context():
        recorded = db.session.scalar(select(func.count()).select_from(EposQboReceipt).where(
            EposQboReceipt.company == "co01", EposQboReceipt.status == "synced"))
    assert recorded < len(accepted), "the crash left receipts QBO holds but we did not record"

    procs.worker("--no-scheduler", **env)
    lost = wait_for(lambda: _ended(app, run_id), timeout=30, interval=0.1, message="the killed run to be failed")
    assert (lost.status, lost.reason) == ("failed", "runner lost")
    fakes.qbo_faults()
    rerun_id, _ = queue(app, "epos_qbo.sync_company", {"company": "co01", "date": DAY.isoformat()})
    rerun = wait_for(lambda: _ended(app, rerun_id), timeout=120, interval=0.1, message=f"rerun\n{procs.tail()}")
    assert rerun.status == "succeeded", rerun.reason
    docs = Counter(r["DocNumber"] for r in fakes.truth(1)["receipts"])
    assert max(docs.values()) == 1 and accepted <= set(docs)
    assert sum(docs.values()) == fakes.epos_truth(1, DAY)["count"]
    with app.app_context():
        found = db.session.scalar(select(func.count()).select_from(EposQboReceipt).where(
            EposQboReceipt.company == "co01", EposQboReceipt.message.like("found in QuickBooks by its DocNumber%")))
    assert found >= len(accepted) - recorded
