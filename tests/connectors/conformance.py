"""The conformance suite every connector's tests instantiate: one behaviour, proved for each source.

A connector's tests subclass ConformanceSuite in their test_conformance.py and give it an Adapter
that knows how to reach that connector's fake, read its cache and break its source; the tests
here are the same for all of them. tests/connectors/test_conformance_coverage.py fails when an
enabled connector has none.
"""
import pytest

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
    """Every snapshot connector: fills, is idempotent, keeps the last good data, never half-writes."""

    adapter: Adapter = None

    @pytest.fixture
    def source(self, app, request):
        self.adapter.prepare(request)
        return self.adapter

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
