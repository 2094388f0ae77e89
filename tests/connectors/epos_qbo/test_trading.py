"""Trading dates: a day runs from the cutoff to the next day's cutoff in the business timezone."""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from app.connectors.epos_qbo.trading import (current_trading_date, parse_cutoff, parse_date, target_trading_date,
                                             trading_date_of, window)

LONDON = ZoneInfo("Europe/London")
CUTOFF = (3, 0)


@pytest.mark.parametrize("local, expected", [
    ("2026-03-29T01:30:00", date(2026, 3, 28)),   # the night the clocks go forward: still the 28th
    ("2026-03-29T02:59:59", date(2026, 3, 28)),
    ("2026-03-29T03:00:00", date(2026, 3, 29)),
    ("2026-10-25T01:30:00", date(2026, 10, 24)),  # the night the clocks go back (01:30 happens twice)
    ("2026-06-01T23:59:00", date(2026, 6, 1)),
])
def test_a_sale_before_the_cutoff_belongs_to_the_trading_day_before(local, expected):
    assert trading_date_of(datetime.fromisoformat(local), CUTOFF) == expected


def test_trading_days_across_dst_changes_are_23_and_25_hours_long():
    spring = window(date(2026, 3, 28), LONDON, CUTOFF)
    autumn = window(date(2026, 10, 24), LONDON, CUTOFF)
    assert (spring.start, spring.end) == (datetime(2026, 3, 28, 3), datetime(2026, 3, 29, 3))
    assert spring.hours == 23 and autumn.hours == 25 and window(date(2026, 6, 1), LONDON, CUTOFF).hours == 24
    assert spring.start_utc == datetime(2026, 3, 28, 3) and spring.end_utc == datetime(2026, 3, 29, 2)


def test_the_target_trading_date_is_the_last_complete_one():
    at_0130_local = datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc)  # 01:30 GMT: the 28th is still trading
    assert current_trading_date(LONDON, CUTOFF, at_0130_local) == date(2026, 3, 28)
    assert target_trading_date(LONDON, CUTOFF, at_0130_local) == date(2026, 3, 27)
    at_0400_local = datetime(2026, 3, 29, 3, 0, tzinfo=timezone.utc)   # 04:00 BST
    assert target_trading_date(LONDON, CUTOFF, at_0400_local) == date(2026, 3, 28)


def test_bad_dates_and_cutoffs_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_date("27/03/2026")
    with pytest.raises(ValueError, match="HH:MM"):
        parse_cutoff("3am")
    assert parse_cutoff("03:30") == (3, 30)
