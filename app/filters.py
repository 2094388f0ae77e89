"""Parse list-page filters from the query string with clear 400s on bad input."""
from datetime import datetime, time, timedelta, timezone

from flask import abort, request

from . import settings

PAGE_SIZES = (25, 50, 100)


def page_args():
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("per_page", PAGE_SIZES[1]))
    except ValueError:
        abort(400, "'page' and 'per_page' must be whole numbers")
    if page < 1 or per_page not in PAGE_SIZES:
        abort(400, f"'page' must be 1 or more and 'per_page' one of {', '.join(map(str, PAGE_SIZES))}")
    return page, per_page


def date_arg(name, end_of_day=False):
    """A YYYY-MM-DD filter in the business timezone, as a naive UTC datetime bound."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        abort(400, f"'{name}' must be a date as YYYY-MM-DD, got {raw[:40]!r}")
    local = datetime.combine(day + timedelta(days=1) if end_of_day else day, time.min, tzinfo=settings.business_tz())
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def choice_arg(name, choices):
    raw = (request.args.get(name) or "").strip()
    if raw and raw not in choices:
        abort(400, f"'{name}' must be one of {', '.join(choices)}")
    return raw or None


def text_arg(name, max_length=200):
    raw = (request.args.get(name) or "").strip()
    if len(raw) > max_length:
        abort(400, f"'{name}' is longer than {max_length} characters")
    return raw or None


def run_ids_arg(name="ids", maximum=100):
    """A comma-separated list of run ids from the query string; a bad or too long one is a 400."""
    raw = request.args.get(name, "")
    try:
        ids = [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        abort(400, f"'{name}' must be a comma-separated list of run ids")
    if len(ids) > maximum:
        abort(400, f"At most {maximum} ids")
    return ids
