"""Jobs used by the tests (registered through TestConfig.EXTRA_JOB_MODULES)."""
import logging
import os
import time

from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from app.connectors.base.upload import open_upload
from app.extensions import db
from app.runs.registry import Param, job

# Kept out of the app's metadata so the migration-drift test never sees it.
test_metadata = MetaData()
test_items = Table("test_items", test_metadata, Column("id", Integer, primary_key=True),
                   Column("batch", Integer), Column("label", String(50)))


@job("tests.noop", title="No-op", connector="tests")
def noop(ctx):
    """Does nothing (engine throughput)."""


# The browser tests slow the refresh down (SLEEPY_DELAY) so a mid-run progress frame is on screen.
@job("tests.sleepy", title="Sleepy", connector="tests", refresh=True, freshness=True,
     params=(Param("steps", "int", 5), Param("delay", "float", float(os.environ.get("SLEEPY_DELAY", 0.2)))))
def sleepy(ctx):
    """Logs and reports progress step by step."""
    steps, delay = ctx.params["steps"], ctx.params["delay"]
    for step in range(1, steps + 1):
        time.sleep(delay)
        ctx.log.info("step %s of %s", step, steps)
        ctx.count(fetched=10, inserted=10)
        ctx.progress(step * 10, steps * 10, f"step {step}")
    ctx.summary = f"Refreshed {steps * 10:,} items"


@job("tests.batches", title="Batches", connector="tests",
     params=(Param("batches", "int", 3), Param("size", "int", 5), Param("delay", "float", 0.3)))
def batches(ctx):
    """Fetches (outside any transaction), then writes a batch and commits; a cancel mid-batch rolls it back."""
    for batch in range(ctx.params["batches"]):
        time.sleep(ctx.params["delay"])  # fetching the next page from the source
        for i in range(ctx.params["size"]):
            db.session.execute(insert(test_items).values(batch=batch, label=f"b{batch}-{i}"))
            ctx.log.info("batch=%s row=%s", batch, i)
            time.sleep(0.01)
            ctx.check_cancelled()
        db.session.commit()
        ctx.count(inserted=ctx.params["size"])
        ctx.progress(batch + 1, ctx.params["batches"])


@job("tests.fail", title="Always fails", connector="tests")
def fail(ctx):
    """Raises, to prove failures are recorded."""
    ctx.log.info("about to fail")
    logging.getLogger("tests.jobs.library").warning("a library logging on its own")
    raise RuntimeError("source answered 500: upstream exploded")


@job("tests.after_noop", title="After no-op", connector="tests", after=("tests.noop",))
def after_noop(ctx):
    """Runs when tests.noop succeeds."""


@job("tests.shared_a", title="Shared lock A", connector="tests", lock="tests.shared",
     params=(Param("delay", "float", 0.2),))
def shared_a(ctx):
    """Holds the shared lock a while, recording when."""
    _hold(ctx)


@job("tests.shared_b", title="Shared lock B", connector="tests", lock="tests.shared",
     params=(Param("delay", "float", 0.2),))
def shared_b(ctx):
    """Same lock as tests.shared_a."""
    _hold(ctx)


def _hold(ctx):
    ctx.log.info("holding pid=%s", os.getpid())
    time.sleep(ctx.params["delay"])


@job("tests.timeout", title="Times out", connector="tests", timeout=0.5)
def times_out(ctx):
    """Checks in a loop past its 0.5 s timeout."""
    while True:
        time.sleep(0.05)
        ctx.check_cancelled()


@job("tests.forever", title="Runs until stopped", connector="tests", timeout=600)
def forever(ctx):
    """Heartbeats while sleeping; killed by tests to prove stale takeover."""
    ctx.log.info("running pid=%s", os.getpid())
    while True:
        time.sleep(0.05)
        ctx.check_cancelled()


@job("tests.upload_size", title="Reads an uploaded file", connector="tests",
     params=(Param("statement", "file", required=True),))
def upload_size(ctx):
    """Reads the uploaded file back (in whichever process runs it) and counts its bytes."""
    with open_upload(ctx.params["statement"]) as file:
        ctx.count(fetched=len(file.read()))
