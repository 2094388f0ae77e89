"""Exactly once across a crash: a worker SIGKILLed in the middle of pushing contacts, then a rerun on
another worker. The fake CRM's truth must hold no duplicate, and no record may be lost."""
import pytest
from sqlalchemy import text

from app.extensions import db
from tests.conftest import requires_postgres, wait_for
from tests.connectors.crm.conftest import crm_config
from tests.connectors.crm.helpers import status_counts
from tests.runs.helpers import get_run, queue
from tests.runs.procs import FAST_ENGINE, procs  # noqa: F401 — the fixture

pytestmark = [requires_postgres, pytest.mark.slow]
STALE = float(FAST_ENGINE["LOCK_STALE_SECONDS"])




def _dependent_run(app, parent_id):
    with app.app_context():
        return db.session.execute(text("SELECT id FROM runs WHERE job_id = 'crm.contacts' AND parent_run_id = :p"),
                                  {"p": parent_id}).scalar()


def _pid_of_run(app, run_id):
    with app.app_context():
        return db.session.execute(text("SELECT pid FROM runs WHERE id = :i"), {"i": run_id}).scalar()


def test_a_worker_killed_mid_stream_then_a_rerun_creates_no_duplicate_and_loses_nothing(app, crm_target, procs):
    env = {**crm_config(crm_target, crm_target.source), "CRM_BATCH_SIZE": 25, "CRM_CONCURRENCY": 4}
    crm_target.faults(latency_ms=25)
    victim = procs.worker("--no-scheduler", **env)
    dedupe_id, _ = queue(app, "crm.dedupe_members")  # its success queues crm.contacts
    run_id = wait_for(lambda: _dependent_run(app, dedupe_id), timeout=60, interval=0.05,
                      message=f"crm.contacts queued after the de-duplication\n{procs.tail()}")
    wait_for(lambda: get_run(app, run_id).status == "running" and get_run(app, run_id).progress_done >= 100,
             timeout=60, interval=0.05, message=f"contacts part-way on the worker\n{procs.tail()}")
    assert _pid_of_run(app, run_id) == victim.pid
    created_before_kill = crm_target.truth()["creates"]["contacts"]
    procs.kill(victim)
    assert created_before_kill > 0

    procs.worker("--no-scheduler", **env)
    lost = wait_for(lambda: get_run(app, run_id).status != "running" and get_run(app, run_id), timeout=STALE + 30,
                    interval=0.1, message="the killed run to be failed")
    assert (lost.status, lost.reason) == ("failed", "runner lost")
    assert status_counts(app, "contacts").get("pending", 0) > 0, "the crash left records with unknown outcomes"

    crm_target.faults()
    rerun_id, _ = queue(app, "crm.contacts")
    rerun = wait_for(lambda: get_run(app, rerun_id).status in ("succeeded", "failed") and get_run(app, rerun_id),
                     timeout=120, interval=0.1, message=f"the rerun to end\n{procs.tail()}")
    assert rerun.status == "succeeded", rerun.reason

    ok, duplicates = crm_target.no_duplicates()
    assert ok, duplicates
    counts = status_counts(app, "contacts")
    persons = crm_target.source.scalar("SELECT COUNT(DISTINCT personVId) FROM dbo.membership")
    assert counts.get("pending", 0) == 0 and sum(counts.values()) == persons
    held = {str(c["customFields"]["personVId"]) for c in crm_target.entities("contacts")}
    assert len(held) == len(crm_target.entities("contacts")) == counts["synced"]
