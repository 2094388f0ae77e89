"""The Activity page and its CSV export: filters, business timezone, pagination, streaming."""
import csv
import html
import io
import re
from urllib.parse import parse_qs, urlsplit
from datetime import datetime, timedelta

import pytest

from app import exports
from app.auth.models import Activity
from app import settings
from app.extensions import db

TZ = "America/New_York"  # UTC-5 in January
SEED = {  # name: (UTC time, user, action, target, detail)
    "e1": (datetime(2024, 1, 10, 12, 0), "alice", "login", "alice", ""),
    "e2": (datetime(2024, 1, 15, 12, 0), "bob", "run_triggered", "tests.noop", "run 7 params={}"),
    # 03:00 UTC on the 16th is 22:00 on the 15th in New York: a business-day boundary case.
    "e3": (datetime(2024, 1, 16, 3, 0), "bob", "schedule_created", "tests.sleepy", "schedule 3 cron=0 2 * * *"),
    "e4": (datetime(2024, 1, 20, 9, 0), "carol", "login_failed", '=HYPERLINK("http://evil.example")', ""),
    "e5": (datetime(2024, 1, 20, 10, 0), "alice", "settings_changed", "settings", "changed: retention (100% sure)"),
}


@pytest.fixture
def seeded(app, admin):
    """The SEED entries in New York business time; returns name -> id ("now" is the admin's own login)."""
    with app.app_context():
        settings.put("business_timezone", TZ)
        entries = {name: Activity(at=at, username=user, action=action, target=target, detail=detail, ip="10.0.0.9")
                   for name, (at, user, action, target, detail) in SEED.items()}
        db.session.add_all(entries.values())
        db.session.commit()
        ids = {name: entry.id for name, entry in entries.items()}
        ids["now"] = db.session.scalar(db.select(Activity.id).where(Activity.action == "login",
                                                                    Activity.at > datetime(2025, 1, 1)))
        return ids


def _ids(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return [int(i) for i in re.findall(r'data-activity-id="(\d+)"', response.get_data(as_text=True))]


def _csv(response):
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_unfiltered_is_every_entry_newest_first(admin, seeded):
    assert _ids(admin.client.get("/activity")) == [seeded[n] for n in ("now", "e5", "e4", "e3", "e2", "e1")]


@pytest.mark.parametrize("args,expected", [
    ({"user": "bob"}, {"e2", "e3"}),
    ({"user": "BOB"}, {"e2", "e3"}),
    ({"user": "bo"}, set()),
    ({"action": "login"}, {"e1", "now"}),
    ({"from": "2024-01-15", "to": "2024-01-15"}, {"e2", "e3"}),
    ({"from": "2024-01-16"}, {"e4", "e5", "now"}),
    ({"to": "2024-01-14"}, {"e1"}),
    ({"q": "cron=0 2"}, {"e3"}),
    ({"q": "TESTS.NOOP"}, {"e2"}),
    ({"q": "%"}, {"e5"}),
    ({"q": "_"}, set()),
    ({"user": "alice", "action": "login"}, {"e1", "now"}),
])
def test_each_filter_narrows(admin, seeded, args, expected):
    assert set(_ids(admin.client.get("/activity", query_string=args))) == {seeded[n] for n in expected}


FILTER_ERRORS = [({"from": "2024-13-01"}, "from"), ({"to": "yesterday"}, "to"), ({"action": "hacked"}, "action"),
                 ({"user": "x" * 65}, "user"), ({"q": "x" * 201}, "q")]
PAGE_ERRORS = [({"page": "0"}, "page"), ({"page": "two"}, "page"), ({"per_page": "7"}, "per_page")]


@pytest.mark.parametrize("path,args,name", [("/activity", *case) for case in FILTER_ERRORS + PAGE_ERRORS]
                         + [("/activity.csv", *case) for case in FILTER_ERRORS])
def test_bad_filters_are_400_with_a_message(admin, path, args, name):
    response = admin.client.get(path, query_string=args)
    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400 and f"'{name}'" in text, text[-2000:]


def test_times_are_shown_in_the_business_timezone(admin, seeded):
    page = admin.client.get("/activity", query_string={"user": "bob"}).get_data(as_text=True)
    assert "2024-01-15 07:00:00" in page and "2024-01-15 22:00:00" in page and "12:00:00" not in page


def test_pages_split_the_list_and_keep_the_filters(app, admin):
    with app.app_context():
        start = datetime(2024, 3, 1)
        db.session.add_all(Activity(at=start + timedelta(minutes=i), username="bob", action="refresh",
                                    target=f"t{i}") for i in range(60))
        db.session.commit()
    pages = [_ids(admin.client.get("/activity", query_string={"user": "bob", "per_page": 25, "page": p}))
             for p in (1, 2, 3)]
    assert [len(p) for p in pages] == [25, 25, 10]
    flat = [i for page in pages for i in page]
    assert len(set(flat)) == 60 and flat == sorted(flat, reverse=True)
    page = admin.client.get("/activity", query_string={"user": "bob", "per_page": 25}).get_data(as_text=True)
    links = [parse_qs(urlsplit(html.unescape(h)).query) for h in re.findall(r'class="page-link" href="([^"]+)"', page)]
    assert {"user": ["bob"], "per_page": ["25"], "page": ["2"]} in links
    assert "60 in all" in page


def test_csv_export_is_a_streamed_attachment_matching_the_filter(admin, seeded):
    response = admin.client.get("/activity.csv", query_string={"user": "bob"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="activity-\d{4}-\d\d-\d\d\.csv"', disposition)
    assert _csv(response) == [
        [f"at ({TZ})", "user", "action", "target", "detail", "ip"],
        ["2024-01-15 22:00:00", "bob", "schedule_created", "tests.sleepy", "schedule 3 cron=0 2 * * *", "10.0.0.9"],
        ["2024-01-15 07:00:00", "bob", "run_triggered", "tests.noop", "run 7 params={}", "10.0.0.9"],
    ]


def test_csv_export_uses_every_filter(admin, seeded):
    args = {"action": "login", "from": "2024-01-01", "to": "2024-01-31", "q": "ali"}
    rows = _csv(admin.client.get("/activity.csv", query_string=args))
    assert [r[:3] for r in rows[1:]] == [["2024-01-10 07:00:00", "alice", "login"]]


def test_csv_cells_cannot_become_formulas(admin, seeded):
    rows = _csv(admin.client.get("/activity.csv", query_string={"action": "login_failed"}))
    assert rows[1][3] == '\'=HYPERLINK("http://evil.example")'


def test_csv_is_written_batch_by_batch(app, admin, monkeypatch):
    monkeypatch.setattr(exports, "BATCH", 10)
    with app.app_context():
        db.session.add_all(Activity(at=datetime(2024, 3, 1) + timedelta(minutes=i), username="bob",
                                    action="refresh", target=f"t{i}") for i in range(25))
        db.session.commit()
    response = admin.client.get("/activity.csv", query_string={"user": "bob"})
    chunks = [c for c in response.response if c]
    assert len(chunks) == 4  # the header, then three batches of at most 10 rows
    rows = list(csv.reader(io.StringIO("".join(c.decode() if isinstance(c, bytes) else c for c in chunks))))
    assert len(rows) == 26 and rows[1][3] == "t24" and rows[-1][3] == "t0"


def test_activity_page_links_the_export_with_its_filters(admin, seeded):
    page = admin.client.get("/activity", query_string={"user": "bob", "page": 1}).get_data(as_text=True)
    link = re.search(r'id="export-csv" href="([^"]+)"', page).group(1)
    assert link == "/activity.csv?user=bob"
    assert set(_ids(admin.client.get("/activity", query_string={"user": "bob"}))) == {seeded["e2"], seeded["e3"]}


def test_viewers_see_the_activity_too(viewer, seeded):
    assert seeded["e2"] in _ids(viewer.client.get("/activity"))
    assert viewer.client.get("/activity.csv").status_code == 200
