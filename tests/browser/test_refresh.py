"""The Refresh Data button (SPEC §3.3, seed 000): busy state, live progress, toast, reset, dedupe.

The global refresh is tests.sleepy with its defaults (5 steps × 0.2 s → "Refreshed 50 items").
"""
import re

import pytest
from playwright.sync_api import expect

from .helpers import ADMIN, TOAST, max_run_id, refresh_texts, runs_since, toasts_seen, wait_no_active_runs

pytestmark = pytest.mark.browser

PROGRESS = re.compile(r"^Refreshing… \d[\d,]*/\d[\d,]*$")
OUTCOME = re.compile(r"Refreshed 50 items in \d+\.\d s")


def is_refresh_post(response):
    return response.url.endswith("/api/refresh") and response.request.method == "POST"


def button_answer(response):
    """The run ids and created ids of the button fragment an htmx POST /api/refresh answers."""
    html = response.text()
    assert 'id="refresh-btn"' in html, html

    def ids(attr):
        match = re.search(rf'{attr}="([\d,]*)"', html)
        return [int(x) for x in match.group(1).split(",") if x] if match else []
    return {"runs": ids("data-run-ids"), "created": ids("data-created")}


def test_refresh_button_busy_progress_toast_and_reset(admin_page, live_server, page_errors):
    page = admin_page
    wait_no_active_runs(live_server)
    btn, text = page.locator("#refresh-btn"), page.locator("#refresh-text")
    spinner = btn.locator(".spinner-border")
    expect(text).to_have_text("Refresh Data")
    expect(btn).to_have_class(re.compile(r"\bbtn-success\b"))
    expect(spinner).to_be_hidden()
    before = max_run_id(live_server)

    # Hold the POST in the browser to prove the busy state does not wait for the server.
    held = []
    page.route("**/api/refresh", lambda route: held.append(route) if route.request.method == "POST"
               else route.continue_())
    with page.expect_request(lambda r: r.url.endswith("/api/refresh") and r.method == "POST"):
        btn.click()
    for _ in range(100):  # the route handler runs on the next event dispatch
        if held:
            break
        page.wait_for_timeout(20)
    expect(btn).to_have_class(re.compile(r"\bloading\b"))
    expect(btn).to_have_class(re.compile(r"\bbtn-warning\b"))
    expect(btn).to_be_disabled()
    expect(spinner).to_be_visible()
    expect(text).to_have_text(re.compile(r"^Refreshing"))
    assert len(held) == 1, "the click must POST /api/refresh exactly once"
    with page.expect_response(is_refresh_post) as posted:
        held[0].continue_()
    page.unroute("**/api/refresh")
    body = button_answer(posted.value)
    assert posted.value.status == 202, body  # created
    assert len(body["runs"]) == 1, body
    run_id = body["runs"][0]
    assert live_server.scalar("SELECT job_id FROM runs WHERE id = ?", run_id) == "tests.sleepy"
    assert body["created"] == [run_id]

    # Live progress from the run's own numbers, painted while it is still running.
    expect(text).to_have_text(re.compile(r"^Refreshing… [1-4]0/50$"), timeout=10_000)

    toast = page.locator(TOAST, has_text="Refreshed 50 items in")
    expect(toast).to_be_visible(timeout=15_000)
    expect(toast).to_have_text(OUTCOME)
    expect(toast).to_have_class(re.compile(r"\btext-bg-success\b"))

    # The button resets (through "✓ Refresh Data") to its idle state.
    expect(text).to_have_text("Refresh Data", timeout=10_000)
    expect(btn).not_to_have_class(re.compile(r"\bloading\b"))
    expect(btn).to_have_class(re.compile(r"\bbtn-success\b"))
    expect(btn).to_be_enabled()
    expect(spinner).to_be_hidden()

    texts = refresh_texts(page)
    assert texts[0] == "Refresh Data" and texts[-1] == "Refresh Data", texts
    assert texts[1].startswith("Refreshing"), texts
    frames = [t for t in texts if PROGRESS.match(t)]
    assert frames and frames[-1] == "Refreshing… 50/50", texts
    assert "✓ Refresh Data" in texts, texts

    rows = runs_since(live_server, before, "tests.sleepy")  # system jobs run on schedules
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [(run_id, "tests.sleepy", "succeeded", "refresh")]

    # The events poll must not toast this run a second time (the button already did): wait for
    # two events polls after the end; the first carries the finished event, the second proves
    # the first was handled.
    for _ in range(2):
        with page.expect_request(lambda r: "/api/events" in r.url, timeout=10_000):
            pass
    about_run = [t for t in toasts_seen(page)
                 if t["link"] == f"/runs/{run_id}" or (t["link"] is None and "Refreshed 50 items" in t["text"])]
    assert len(about_run) == 1, toasts_seen(page)
    assert page_errors.items == []


def test_two_users_clicking_together_share_one_run(new_page, live_server, page_errors):
    first, second = new_page(ADMIN), new_page(ADMIN)
    wait_no_active_runs(live_server)
    before = max_run_id(live_server)
    for page in (first, second):
        expect(page.locator("#refresh-btn")).to_be_enabled()
        expect(page.locator("#refresh-text")).to_have_text("Refresh Data")

    with first.expect_response(is_refresh_post) as r1, second.expect_response(is_refresh_post) as r2:
        first.locator("#refresh-btn").click()
        second.locator("#refresh-btn").click()
    b1, b2 = button_answer(r1.value), button_answer(r2.value)
    assert sorted([r1.value.status, r2.value.status]) == [200, 202]  # one created it, one joined it
    ids1, ids2 = b1["runs"], b2["runs"]
    assert ids1 == ids2 and len(ids1) == 1, (b1, b2)
    # Exactly one of the two requests created it.
    assert sorted([b1["created"], b2["created"]]) == [[], ids1], (b1["created"], b2["created"])

    for page in (first, second):
        # Each page tracked the run itself: the button's own toast (no link) on both.
        button_toast = page.locator(TOAST, has_text="Refreshed 50 items in").filter(has_not=page.locator("a"))
        expect(button_toast).to_be_visible(timeout=15_000)
        expect(page.locator("#refresh-text")).to_have_text("Refresh Data", timeout=10_000)
    rows = runs_since(live_server, before, "tests.sleepy")  # system jobs run on schedules
    assert [(r[0], r[2]) for r in rows] == [(ids1[0], "succeeded")], rows
    assert page_errors.items == []


def test_burst_of_refresh_posts_enqueues_one_run(admin_page, live_server):
    """Server-side dedupe under real concurrency (8 gunicorn threads), not only the button."""
    page = admin_page
    wait_no_active_runs(live_server)
    before = max_run_id(live_server)
    results = page.evaluate("""async () => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const post = () => fetch("/api/refresh", {method: "POST", credentials: "same-origin",
            headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf},
            body: "{}"}).then(async (r) => ({status: r.status, body: await r.json()}));
        return Promise.all(Array.from({length: 8}, post));
    }""")
    assert sorted(r["status"] for r in results) == [200] * 7 + [202], results  # one created, seven joined
    ids = {tuple(x["id"] for x in r["body"]["runs"]) for r in results}
    assert len(ids) == 1, results
    created = [r["body"]["created"] for r in results if r["body"]["created"]]
    assert len(created) == 1, results
    wait_no_active_runs(live_server)
    rows = runs_since(live_server, before, "tests.sleepy")
    assert len(rows) == 1 and rows[0][2] == "succeeded", rows
    # The page did not click, so the events poll reports the run's end (with a link to it).
    run_id = rows[0][0]
    page.wait_for_function(
        f"() => window.__toasts.some((t) => t.link === '/runs/{run_id}' && t.text.includes('Refreshed 50 items'))",
        timeout=15_000)
