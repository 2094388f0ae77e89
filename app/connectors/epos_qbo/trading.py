"""Trading dates: a shop's day runs from the cutoff (say 03:00) to the next day's cutoff, in the
business timezone, so a sale rung up at 01:30 belongs to the trading day before.

Everything here works on wall-clock times in the business timezone (what EPOS reports and is asked
for) and converts to UTC only where a stored UTC time is compared; a DST change makes a trading day
23 or 25 hours long, never moves a sale to the wrong day.
"""
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from ... import settings


@dataclass(frozen=True)
class TradingDay:
    """One trading date and its window [start, end) in local wall-clock time."""

    day: date
    start: datetime  # naive, local
    end: datetime    # naive, local
    tz: ZoneInfo

    @property
    def start_utc(self):
        return _to_utc(self.start, self.tz)

    @property
    def end_utc(self):
        return _to_utc(self.end, self.tz)

    @property
    def hours(self):
        """The day's real length (23 or 25 across a DST change)."""
        return (self.end_utc - self.start_utc).total_seconds() / 3600


def parse_cutoff(value):
    """(hour, minute) of an "HH:MM" cutoff."""
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", str(value or "")):
        raise ValueError(f"Day cutoff must be HH:MM, not {value!r}")
    hours, minutes = map(int, value.split(":"))
    return hours, minutes


def business_rules(values=None):
    """(timezone, (hour, minute)) from Settings: the business timezone and the day cutoff."""
    values = values or settings.get_many()
    return ZoneInfo(values["business_timezone"]), parse_cutoff(values["day_cutoff"])


def window(day, tz, cutoff):
    """The trading day `day` as a TradingDay: from its cutoff to the next day's, local time."""
    at = time(*cutoff)
    return TradingDay(day, datetime.combine(day, at), datetime.combine(day + timedelta(days=1), at), tz)


def trading_date_of(local_time, cutoff):
    """The trading date of a sale at this local wall-clock time."""
    day = local_time.date()
    return day - timedelta(days=1) if local_time.time() < time(*cutoff) else day


def current_trading_date(tz, cutoff, now_utc=None):
    """The trading date in progress now."""
    now = (now_utc or datetime.now(timezone.utc)).astimezone(tz).replace(tzinfo=None)
    return trading_date_of(now, cutoff)


def target_trading_date(tz, cutoff, now_utc=None):
    """The last complete trading date: what a nightly run syncs and the Overview reports on."""
    return current_trading_date(tz, cutoff, now_utc) - timedelta(days=1)


def parse_date(value):
    """A trading date from "YYYY-MM-DD"; ValueError with the reason otherwise."""
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"Trading date must be YYYY-MM-DD, not {str(value)[:40]!r}") from None


def _to_utc(local, tz):
    # fold=0: an ambiguous wall time (the repeated hour in autumn) is read as its first occurrence.
    return local.replace(tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)
