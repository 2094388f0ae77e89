"""Standard cron (five fields, or six with seconds first) to an APScheduler trigger.

APScheduler 3 numbers weekdays from Monday = 0, while cron (and every operator)
means Sunday = 0; CronTrigger.from_crontab keeps that mismatch (its issue 286).
Numeric weekdays are therefore rewritten as day names before APScheduler sees them.
"""
from apscheduler.triggers.cron import CronTrigger

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
FIELDS = ("minute", "hour", "day", "month", "day_of_week")


def make_trigger(cron, tz):
    """Build the trigger for a five- or six-field cron in timezone tz; ValueError if invalid."""
    parts = cron.split()
    if len(parts) not in (5, 6):
        raise ValueError(f"expected 5 fields (or 6 with seconds first), got {len(parts)}")
    second = parts.pop(0) if len(parts) == 6 else "0"
    values = dict(zip(FIELDS, parts))
    values["day_of_week"] = crontab_weekdays(values["day_of_week"])
    return CronTrigger(second=second, timezone=tz, **values)


def crontab_weekdays(field):
    """Rewrite a cron day-of-week field (0 or 7 = Sunday) as APScheduler day names."""
    if field in ("*", "?"):
        return "*"
    out = []
    for part in field.split(","):
        if any(ch.isalpha() for ch in part):
            out.append(part)  # names mean the same day in both
        else:
            out.extend(DAY_NAMES[d % 7] for d in sorted(_expand(part)))
    return ",".join(dict.fromkeys(out))


def _expand(part):
    base, _, step = part.partition("/")
    step = int(step) if step else 1
    if step < 1:
        raise ValueError(f"bad step in day of week {part!r}")
    if base == "*":
        low, high = 0, 6
    elif "-" in base:
        low, high = (int(x) for x in base.split("-", 1))
    else:
        low = int(base)
        high = 6 if step > 1 and "/" in part else low
    if not (0 <= low <= 7 and 0 <= high <= 7 and low <= high):
        raise ValueError(f"day of week out of range in {part!r} (0-7, 0 and 7 = Sunday)")
    return set(range(low, high + 1, step))
