"""Smoke walk over every page, the viewer's navbar, and toasts for runs that finish elsewhere."""
import re

import pytest
from playwright.sync_api import expect

from .helpers import ADMIN, TOAST, VIEWER, csrf_post, toasts_seen, wait_until

pytestmark = pytest.mark.browser

NAV = ["Overview", "Jobs", "Runs", "Logs", "Schedules", "Activity", "Users", "Settings"]


def nav_link(page, label):
    return page.locator("nav.navbar a.nav-link", has_text=re.compile(rf"^\s*{label}\s*$"))


def trigger(page, job_id, params=None):
    result = csrf_post(page, f"/api/jobs/{job_id}/run", {"params": params or {}})
    assert result["status"] == 202, result  # created
    return result["body"]["run"]["id"]


def wait_events_polls(page, count=2):
    """Let the page's events poll (every 3 s) run `count` times; the first answer after a change
    carries it, the next request proves the answer was handled."""
    for _ in range(count):
        with page.expect_request(lambda r: "/api/events" in r.url, timeout=10_000):
            pass


def test_every_page_loads_with_navbar_and_no_console_errors(admin_page, page_errors):
    page = admin_page
    for label in NAV:
        with page.expect_navigation() as nav:
            nav_link(page, label).click()
        response = nav.value
        assert response is not None and response.status == 200, (label, response and response.status)
        expect(page.locator("nav.navbar")).to_be_visible()
        expect(page.locator("#current-user")).to_have_text(ADMIN[0])
        expect(page.locator("#refresh-btn")).to_be_visible()
        expect(nav_link(page, label)).to_have_class(re.compile(r"\bactive\b"))
        for other in NAV:
            expect(nav_link(page, other)).to_be_visible()
        page.wait_for_load_state("networkidle")
    assert page_errors.items == []


def test_viewer_has_no_refresh_button_and_cannot_refresh(new_page, live_server, page_errors):
    page = new_page(VIEWER)
    expect(page.locator("nav.navbar")).to_be_visible()
    expect(page.locator("#refresh-btn")).to_have_count(0)
    page.goto("/jobs")
    expect(page.locator("#jobs-table")).to_be_visible()
    expect(page.locator("#refresh-btn")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Run now"))).to_have_count(0)
    assert page_errors.items == []
    # The server refuses too (a JSON 403; the browser logs that 403 itself, so errors are
    # checked before this).
    count = "SELECT COUNT(*) FROM runs WHERE trigger = 'refresh'"
    before = live_server.scalar(count)
    result = csrf_post(page, "/api/refresh")
    assert result["status"] == 403, result
    assert isinstance(result["body"], dict) and result["body"].get("error"), result
    assert live_server.scalar(count) == before


def test_toast_on_overview_when_a_run_finishes_elsewhere(new_page, live_server, page_errors):
    watcher, other = new_page(ADMIN), new_page(ADMIN)
    expect(watcher.locator("#data-area")).to_be_visible()
    watcher.evaluate("() => { window.__samePage = true; }")
    run_id = trigger(other, "tests.noop")

    toast = watcher.locator(TOAST, has=watcher.locator(f'a[href="/runs/{run_id}"]'))
    expect(toast.filter(has_text="No-op finished")).to_be_visible(timeout=15_000)
    expect(toast.filter(has_text="No-op finished")).to_have_class(re.compile(r"\btext-bg-success\b"))
    # The overview refreshed its data area in place (no reload) and now shows the run.
    expect(watcher.locator(f'#data-area a[href="/runs/{run_id}"]').first).to_be_visible(timeout=10_000)
    assert watcher.evaluate("() => window.__samePage === true")
    assert page_errors.items == []


def test_toast_on_runs_list_survives_and_page_settles(new_page, live_server, page_errors):
    """/runs must show the toast for a run that finished elsewhere, show the run in its list,
    and then settle: not lose the toast to a reload, not keep reloading."""
    watcher, other = new_page(ADMIN), new_page(ADMIN)
    watcher.goto("/runs")
    expect(watcher.locator("#runs-table")).to_be_visible()
    navigations = []
    watcher.on("framenavigated", lambda f: f == watcher.main_frame and navigations.append(f.url))
    run_id = trigger(other, "tests.noop")

    run_link = f'#runs-table a[href="/runs/{run_id}"]'
    expect(watcher.locator(run_link)).to_be_visible(timeout=15_000)
    toast = watcher.locator(TOAST, has=watcher.locator(f'a[href="/runs/{run_id}"]'))
    expect(toast).to_be_visible()
    expect(toast).to_contain_text("No-op finished")
    settled = len(navigations)
    wait_events_polls(watcher, 2)
    assert navigations[settled:] == [], f"/runs kept reloading: {navigations}"
    assert page_errors.items == []


def test_page_opened_after_a_run_finished_does_not_toast_it(new_page, live_server, page_errors):
    """A toast says something just happened; a run that ended before the page was rendered is
    already shown by the page and must not be announced again (e.g. on every navigation)."""
    other = new_page(ADMIN)
    run_id = trigger(other, "tests.noop")
    wait_until(lambda: live_server.scalar("SELECT status FROM runs WHERE id = ?", run_id) == "succeeded",
               timeout=15, message=f"run {run_id} succeeded")
    late = new_page(ADMIN)  # logs in and renders the overview after the run ended
    late.goto("/jobs")
    wait_events_polls(late, 2)
    stale = [t for t in toasts_seen(late) if t["link"] == f"/runs/{run_id}"]
    assert stale == [], f"toasted a run that ended before the page was opened: {stale}"
    assert page_errors.items == []


def test_cron_preview_follows_typing(admin_page):
    """The schedule form's preview is the server's: words and next fire times, or the error."""
    page = admin_page
    page.goto("/schedules")
    preview = page.locator("#cron-preview")
    page.fill("#s-tz", "UTC")
    page.fill("#s-cron", "0 2 * * *")
    expect(preview).to_have_text(re.compile(r"^At 02:00\. Next: \d{4}-\d\d-\d\d 02:00, "))
    expect(preview).to_have_class(re.compile(r"\btext-success\b"))
    page.fill("#s-cron", "0 99 * * *")  # a 400 fragment, swapped in where it was asked for
    expect(preview).to_contain_text("Invalid cron")
    expect(preview).to_have_class(re.compile(r"\btext-danger\b"))
