"""The Overview's numbers: the business day window and its KPIs."""
from datetime import datetime, timedelta

from app import settings
from app.dashboard.overview import business_day_window, kpis
from app.extensions import db
from app.runs.models import Run


def test_business_day_starts_at_the_cutoff_in_the_business_timezone(app):
    with app.app_context():
        values = {**settings.DEFAULTS, "business_timezone": "Africa/Johannesburg", "day_cutoff": "04:00"}
        # 01:30 UTC on the 21st is 03:30 in Johannesburg: still the trading day of the 20th.
        start, end, day = business_day_window(datetime(2026, 11, 21, 1, 30), values)
        assert str(day) == "2026-11-20"
        assert (start, end) == (datetime(2026, 11, 20, 2, 0), datetime(2026, 11, 21, 2, 0))
        start, _, day = business_day_window(datetime(2026, 11, 21, 2, 30), values)
        assert str(day) == "2026-11-21" and start == datetime(2026, 11, 21, 2, 0)


def test_kpis_count_only_the_business_day(app):
    with app.app_context():
        start, _, _ = business_day_window()
        def add(status, offset_minutes, seconds, rows, key):
            queued = start + timedelta(minutes=offset_minutes)
            db.session.add(Run(job_id="tests.noop", lock_key="tests.noop", trigger="manual", status=status,
                               params={}, params_key=key, queued_at=queued, started_at=queued,
                               finished_at=queued + timedelta(seconds=seconds), rows_inserted=rows))
        add("succeeded", 5, 10, 100, "a")
        add("succeeded", 6, 20, 50, "b")
        add("failed", 7, 30, 0, "c")
        add("succeeded", -60, 99, 999, "d")  # the day before
        db.session.commit()
        numbers = kpis()
    assert (numbers.runs, numbers.finished, numbers.succeeded, numbers.rows_synced) == (3, 3, 2, 150)
    assert round(numbers.success_rate) == 67 and abs(numbers.avg_runtime - 20.0) < 0.01
