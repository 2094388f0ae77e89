"""Run detail page: live log tail, progress bar, final state, and no polling once terminal."""
import re

import pytest
from playwright.sync_api import expect

from .helpers import toasts_seen, wait_no_active_runs

pytestmark = pytest.mark.browser

LINE_COUNT = "document.querySelectorAll('#run-log .log-line').length"


def progress(page):
    return int(page.locator('[data-role="progress-bar"]').evaluate("el => parseFloat(el.style.width)"))


def start_sleepy_from_jobs_page(page, steps, delay):
    """Jobs page → "Run now…" on tests.sleepy → fill the parameters → Run → its live panel → the run page."""
    page.goto("/jobs")
    row = page.locator('tr[data-job-id="tests.sleepy"]')
    toggle = row.get_by_role("button", name="Run now…")
    form = page.locator(f"{toggle.get_attribute('data-bs-target')} form")
    expect(form).to_be_hidden()
    toggle.click()
    expect(form).to_be_visible()
    form.locator("input[name='param_steps']").fill(str(steps))
    form.locator("input[name='param_delay']").fill(str(delay))
    form.get_by_role("button", name="Run").click()
    link = row.locator('[data-run-panel] [data-role="run-link"]')
    expect(link).to_have_text(re.compile(r"^\d+$"))
    expect(row.locator('[data-run-panel] [data-role="run-status"] .status-badge')).to_have_text(
        re.compile(r"^(queued|running)$"))
    with page.expect_navigation(url=re.compile(r"/runs/\d+$")):
        link.click()
    return int(re.search(r"/runs/(\d+)$", page.url).group(1))


def test_run_page_tails_log_and_stops_polling(admin_page, live_server, page_errors):
    page = admin_page
    wait_no_active_runs(live_server)
    log_requests = []
    page.on("request", lambda r: "/logs" in r.url and log_requests.append(r.url))

    run_id = start_sleepy_from_jobs_page(page, steps=20, delay=0.3)
    assert live_server.scalar("SELECT params FROM runs WHERE id = ?", run_id).replace(" ", "") in (
        '{"steps":20,"delay":0.3}', '{"delay":0.3,"steps":20}')
    badge = page.locator("#run-status .status-badge")

    # Lines arrive while the run is still running.
    page.wait_for_function(f"() => {LINE_COUNT} >= 3", timeout=15_000)
    expect(badge).to_have_text("running")
    assert live_server.scalar("SELECT status FROM runs WHERE id = ?", run_id) == "running"
    expect(page.locator("#log-state")).to_have_text("live")
    first_count = page.evaluate(f"() => {LINE_COUNT}")
    first_pct = progress(page)
    assert first_pct < 100

    # More lines later, and the bar grows, still while running.
    page.wait_for_function(f"() => {LINE_COUNT} > {first_count}", timeout=10_000)
    page.wait_for_function(
        f"() => parseFloat(document.querySelector('[data-role=progress-bar]').style.width) > {first_pct}",
        timeout=10_000)
    assert page.locator("#run-log .log-line", has_text="step 1 of 20").count() == 1

    # The end: succeeded, full bar, the executor's last line, no Terminate button.
    expect(badge).to_have_text("succeeded", timeout=30_000)
    done_at = len(log_requests)
    expect(badge).to_have_class(re.compile(r"\btext-bg-success\b"))
    expect(page.locator("#run-log .log-line", has_text="finished status=succeeded")).to_have_count(1)
    expect(page.locator('[data-role="progress-bar"]')).to_have_text("100%")
    expect(page.locator("#progress-text")).to_have_text("200 / 200")
    expect(page.locator("#terminate")).to_have_count(0)
    expect(page.locator(".syncdeck-toast", has_text="Refreshed 200 items in")).to_be_visible()

    # Every line once, in order, matching the database.
    seqs = page.locator("#run-log .log-line").evaluate_all("els => els.map((e) => Number(e.dataset.seq))")
    assert seqs == sorted(set(seqs)), seqs
    db_lines = live_server.scalar("SELECT COUNT(*) FROM run_logs WHERE run_id = ?", run_id)
    expect(page.locator("#run-log .log-line")).to_have_count(db_lines)
    for step in range(1, 21):
        assert page.locator("#run-log .log-line", has_text=f"step {step} of 20").count() == 1

    # Terminal and drained: the page stops polling (at most the one final log fetch).
    page.wait_for_timeout(2000)
    assert len(log_requests) - done_at <= 1, log_requests[done_at:]
    expect(page.locator("#log-state")).to_have_text("")

    # Opening the finished run shows the whole log, then stops as well; the events poll (every
    # 3 s) sees the run's end but does not toast it on its own page.
    log_requests.clear()
    page.reload()
    expect(page.locator("#run-log .log-line")).to_have_count(db_lines)
    for _ in range(2):
        with page.expect_request(lambda r: "/api/events" in r.url, timeout=10_000):
            pass
    assert len(log_requests) <= 2, log_requests
    assert [t for t in toasts_seen(page) if f"/runs/{run_id}" == t["link"] or "200 items" in t["text"]] == []
    assert page_errors.items == []
