"""The conformance suite every connector's tests instantiate: one behaviour, proved for each source.

A snapshot connector's tests subclass SnapshotConformanceSuite in their test_conformance.py and
give it an Adapter that knows how to reach that connector's fake, read its cache and break its
source; a push connector's subclass PushConformanceSuite with a PushAdapter that reads and breaks
its target. The tests here are the same for all of them. tests/connectors/test_conformance_coverage.py fails when an
enabled connector has none.
"""
import pytest

from sqlalchemy import select

from app.connectors.base.push import counts, retry
from app.connectors.base.push_models import SyncRecord
from app.extensions import db
from app.runs.models import Run
from app.runs.service import cancel
from tests.conftest import wait_for
from tests.runs.helpers import get_run, queue, run_job, wait_status


class Adapter:
    """What the suite needs to know about one connector (override every method)."""

    job_id = ""          # its snapshot job
    mid_run_progress = 1  # progress_done at which a run is surely part-way

    def prepare(self, request):
        """Start and point the app at the fake source (request.getfixturevalue for fixtures)."""

    def cache(self, app):
        """The cache's content as pages show it, comparable with ==."""
        raise NotImplementedError

    def change_source(self, app):
        """Make the next sync's result differ (so a sync that lost it can be told apart)."""

    def break_source(self, app):
        """Make the next sync fail."""

    def slow_source(self, app):
        """Make the next sync slow enough to be stopped part-way."""

    def heal_source(self, app):
        """Undo break_source and slow_source."""


class ConformanceSuite:
    """What every connector's suite shares: an adapter, prepared for each test."""

    adapter = None

    @pytest.fixture
    def source(self, app, request):
        self.adapter.prepare(request)
        return self.adapter


class SnapshotConformanceSuite(ConformanceSuite):
    """Every snapshot connector: fills, is idempotent, keeps the last good data, never half-writes."""

    adapter: Adapter = None

    def _sync(self, app, source):
        run = run_job(app, source.job_id, timeout=120)
        assert run.status == "succeeded", run.reason
        return source.cache(app)

    def test_a_full_sync_fills_the_cache(self, app, source):
        assert source.cache(app) == source.cache(app) and not _filled(source.cache(app))
        assert _filled(self._sync(app, source))

    def test_a_second_identical_sync_changes_nothing(self, app, source):
        first = self._sync(app, source)
        assert self._sync(app, source) == first

    def test_a_failing_source_keeps_the_last_good_data(self, app, source):
        good = self._sync(app, source)
        source.change_source(app)
        source.break_source(app)
        run = run_job(app, source.job_id, timeout=120)
        assert run.status == "failed" and run.reason
        assert source.cache(app) == good
        self._assert_change_shows_once_healed(app, source, good)

    def test_terminate_mid_run_leaves_nothing_half_written(self, app, source):
        good = self._sync(app, source)
        source.change_source(app)
        source.slow_source(app)
        run_id, _ = queue(app, source.job_id)
        wait_for(lambda: get_run(app, run_id).progress_done >= source.mid_run_progress, timeout=60,
                 message="the run part-way")
        with app.app_context():
            cancel(db.session.get(Run, run_id), "conformance")
            db.session.commit()
        assert wait_status(app, run_id, "cancelled", "failed", "succeeded", timeout=60).status == "cancelled"
        assert source.cache(app) == good
        self._assert_change_shows_once_healed(app, source, good)

    def _assert_change_shows_once_healed(self, app, source, good):
        """The change the stopped run lost is real: the next good sync shows it."""
        source.heal_source(app)
        assert self._sync(app, source) != good


def _filled(cache):
    """Whether a cache snapshot holds any row (a dict of row lists, or a list)."""
    values = cache.values() if isinstance(cache, dict) else [cache]
    return any(len(rows) for rows in values)


class PushAdapter:
    """What the push suite needs to know about one push stream (override every method)."""

    job_id = ""        # the job that pushes the stream
    params = {}        # and its params
    connector = ""     # its ledger's connector and stream
    stream = ""
    mid_run_progress = 1
    # Whether a changed source record is sent again as an update (a posted sale is not: it stays as posted).
    updates = True

    def prepare(self, request):
        """Start and point the app at the fake target and the source."""

    def expected(self, app):
        """How many records a full push leaves synced at the target."""
        raise NotImplementedError

    def target(self, app):
        """{source key: content} of what the target holds for the stream."""
        raise NotImplementedError

    def duplicates(self, app):
        """The source keys the target holds more than once (must stay empty)."""
        raise NotImplementedError

    def creates(self, app):
        """How many creates the target has accepted so far."""
        raise NotImplementedError

    def change_source(self, app):
        """Change one record's content; return its source key."""
        raise NotImplementedError

    def refused(self, app):
        """How many records the target refuses for their own content (a seeded bad value), 0 by default."""
        return 0

    def reject_one(self, app):
        """Make the target refuse one record (a validation error) until heal_target; return its key."""
        raise NotImplementedError

    def break_target(self, app):
        """Make the target fail (5xx) part-way through the next push."""

    def slow_target(self, app):
        """Make the target slow enough for a push to be stopped part-way."""

    def release(self, app):
        """Let a call held by slow_target answer now (after the run was told to stop)."""

    def heal_target(self, app):
        """Undo reject_one, break_target and slow_target."""

    # The ledger: the shared push ledger (base/push.py) unless the connector keeps its own.
    def synced(self, app):
        """How many records the ledger holds as synced."""
        with app.app_context():
            return counts(self.connector, self.stream)["synced"]

    def retry(self, app, key):
        """Ask for one failed record to be sent again by the next run; return how many were set."""
        with app.app_context():
            record_id = db.session.scalar(select(SyncRecord.id).where(
                SyncRecord.connector == self.connector, SyncRecord.stream == self.stream,
                SyncRecord.source_key == key))
            changed = retry(ids=[record_id])
            db.session.commit()
            return changed

    def pushed(self, run):
        """How many records a run sent."""
        return run.counters.get("pushed")


class PushConformanceSuite(ConformanceSuite):
    """Every push stream: each record sent once, changes updated, one refusal fails alone, a failing
    or stopped run is finished by the next without sending anything twice."""

    adapter: PushAdapter = None

    def _push(self, app, source):
        run = run_job(app, source.job_id, source.params, timeout=180)
        assert run.status == "succeeded", run.reason
        return run

    def test_a_full_push_sends_each_record_once_and_a_second_sends_nothing(self, app, source):
        self._push(app, source)
        held, creates = source.target(app), source.creates(app)
        assert len(held) == source.expected(app) == source.synced(app) > 0
        again = self._push(app, source)
        assert source.pushed(again) == 0 and source.creates(app) == creates and source.target(app) == held

    def test_a_changed_record_is_updated_not_created_again(self, app, source):
        if not source.updates:
            pytest.skip(f"{source.job_id} sends a record once: a change after that is not sent")
        self._push(app, source)
        before, creates = source.target(app), source.creates(app)
        key = source.change_source(app)
        run = self._push(app, source)
        after = source.target(app)
        assert source.pushed(run) == 1 and source.creates(app) == creates
        assert after[key] != before[key] and {k: v for k, v in after.items() if k != key} == \
            {k: v for k, v in before.items() if k != key}

    def test_a_refused_record_fails_alone_and_goes_through_after_a_retry(self, app, source):
        key = source.reject_one(app)
        run = self._push(app, source)
        assert run.rows_failed == 1 + source.refused(app) and key not in source.target(app)
        assert len(source.target(app)) == source.expected(app) - 1
        source.heal_target(app)
        assert source.retry(app, key) == 1
        self._push(app, source)
        assert key in source.target(app) and len(source.target(app)) == source.expected(app)

    def test_a_failing_target_fails_the_run_and_the_rerun_sends_nothing_twice(self, app, source):
        source.break_target(app)
        run = run_job(app, source.job_id, source.params, timeout=180)
        assert run.status == "failed" and run.reason
        source.heal_target(app)
        self._push(app, source)
        assert source.duplicates(app) == [] and len(source.target(app)) == source.expected(app)

    def test_terminate_mid_run_stops_between_batches_and_the_rerun_completes(self, app, source):
        source.slow_target(app)
        run_id, _ = queue(app, source.job_id, source.params)
        wait_for(lambda: get_run(app, run_id).progress_done >= source.mid_run_progress, timeout=90,
                 message="the push part-way")
        with app.app_context():
            cancel(db.session.get(Run, run_id), "conformance")
            db.session.commit()
        source.release(app)
        assert wait_status(app, run_id, "cancelled", "failed", "succeeded", timeout=90).status == "cancelled"
        assert len(source.target(app)) < source.expected(app)
        source.heal_target(app)
        self._push(app, source)
        assert source.duplicates(app) == [] and len(source.target(app)) == source.expected(app)
