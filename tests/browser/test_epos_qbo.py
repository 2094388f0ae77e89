"""The EPOS→QBO pages in a real browser, against the fake EPOS Now + QuickBooks pair (seed 7, three companies,
ten trading dates of sales ending yesterday, business day UTC from 00:00): Run now from the Overview, the
revenue chart, the Companies page (search, token health, permissions, deactivate) and a company's detail."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from .conftest import EPOS_QBO_COMPANIES, epos_qbo_yesterday
from .helpers import ADMIN, TOAST, VIEWER, csrf_post, toasts_seen, wait_no_active_runs, wait_until

pytestmark = pytest.mark.browser

RUN_TIMEOUT = 60_000  # ms: an all-companies run of three companies takes a few seconds
STATUS = '[data-role="run-status"] .status-badge'
# The latest artifact of each (company, date): the chart's points are its MATCH rows (revenue_series).
LATEST_MATCH = """
    SELECT COUNT(*) FROM epos_qbo_reconciliations r
    WHERE r.status = 'MATCH' AND r.epos_total IS NOT NULL AND r.trading_date >= ? AND r.trading_date <= ?
      AND (? = '' OR r.company = ?)
      AND r.id = (SELECT r2.id FROM epos_qbo_reconciliations r2 WHERE r2.company = r.company
                  AND r2.trading_date = r.trading_date ORDER BY r2.processed_at DESC, r2.id DESC LIMIT 1)"""


def mark_document(page):
    """A flag that a reload or navigation would wipe: the page is still the same document if it is there."""
    page.evaluate("() => { window.__sameDocument = true; }")


def same_document(page):
    return page.evaluate("() => window.__sameDocument === true")


def run_now(page, day, company_label=None):
    """Fill the page's run form and click Run now; return the run panel that appears in #epos-qbo-runs."""
    runs = page.locator("#epos-qbo-runs")
    if company_label is not None:
        page.locator("#run-company").select_option(label=company_label)
    page.locator("#run-date").fill(day)
    page.locator("#epos-qbo-run").click()
    panel = runs.locator("[data-run-panel]").first
    expect(panel).to_be_visible()
    expect(panel.locator('[data-role="run-link"]')).to_have_text(re.compile(r"^\d+$"))
    return panel


def queue_all(page, live_server, days):
    """Queue all-companies runs for these dates through the JSON API (the page's session and CSRF token)."""
    ids = []
    for day in days:
        answer = csrf_post(page, "/api/jobs/epos_qbo.sync_all/run", {"params": {"date": day.isoformat()}})
        assert answer["status"] in (200, 202), answer
        ids.append(answer["body"]["run"]["id"])
    wait_until(lambda: all(live_server.scalar("SELECT status FROM runs WHERE id = ?", i) in
                           ("succeeded", "failed", "cancelled") for i in ids), timeout=120, message="runs ended")
    statuses = [live_server.scalar("SELECT status FROM runs WHERE id = ?", i) for i in ids]
    assert statuses == ["succeeded"] * len(ids), statuses
    return ids


def expected_points(live_server, first, last, company=""):
    return live_server.scalar(LATEST_MATCH, first.isoformat(), last.isoformat(), company, company)


def test_run_now_from_the_overview_follows_the_run_and_refreshes_kpis_and_cards(admin_page, live_server):
    page, day = admin_page, epos_qbo_yesterday().isoformat()
    wait_no_active_runs(live_server)
    page.goto("/epos-qbo/")
    # The date input defaults to the target trading date: yesterday (UTC, cutoff 00:00).
    expect(page.locator("#run-date")).to_have_value(day)
    expect(page.locator("#target-date")).to_contain_text(f"Trading date {day}")
    cards = page.locator("#company-cards [data-company]")
    expect(cards).to_have_count(len(EPOS_QBO_COMPANIES))
    mark_document(page)

    panel = run_now(page, day, "All active companies")
    expect(panel).to_contain_text("EPOS→QBO: all companies")
    expect(panel.locator(STATUS)).to_have_text("succeeded", timeout=RUN_TIMEOUT)
    expect(panel.locator('[data-role="run-message"]')).to_contain_text(f"{day}: 3 of 3 companies synced")
    # The outcome is toasted (by the page's events poll, every 3 s).
    toast = page.locator(TOAST, has_text=f"{day}: 3 of 3 companies synced")
    expect(toast.last).to_be_visible(timeout=15_000)
    assert any("text-bg-success" in t["cls"] for t in toasts_seen(page) if "3 of 3 companies synced" in t["text"])

    # The data area swaps itself in after the run: no reload.
    expect(page.locator('#epos-qbo-kpis [data-kpi="success"]')).to_have_text("100%", timeout=15_000)
    expect(page.locator('#epos-qbo-kpis [data-kpi="mismatched"]')).to_have_text("0 MISMATCH")
    for key in EPOS_QBO_COMPANIES:
        card = page.locator(f'#company-cards [data-company="{key}"]')
        expect(card.locator(".latest-sync")).to_have_text(
            re.compile(rf"^[1-9][\d,]* receipts from latest sync \({day}\)$"))
        expect(card.locator('.recon[data-recon="MATCH"]')).to_be_visible()
    assert same_document(page), "the Overview reloaded instead of refreshing its data area in place"
    # The live log (outside the data area) lists the run after a reload.
    page.reload()
    expect(page.locator("#epos-qbo-events tr").first).to_contain_text(f"All companies · {day}")


def test_the_revenue_chart_follows_range_and_company(admin_page, live_server, page_errors):
    page, last = admin_page, epos_qbo_yesterday()
    wait_no_active_runs(live_server)
    chart_js = []
    page.on("request", lambda r: "chart" in r.url.lower() and r.url.endswith(".js") and chart_js.append(r.url))
    page.goto("/epos-qbo/")
    queue_all(page, live_server, [last - timedelta(days=n) for n in (2, 1, 0)])
    page.reload()

    canvas = page.locator("#revenue-chart")
    expect(canvas).to_have_attribute("data-ready", "1")
    expect(page.locator("#revenue-range .active")).to_have_text("Last 7D")
    week = expected_points(live_server, last - timedelta(days=6), last)
    assert week >= 9  # three companies × the three dates just synced
    expect(canvas).to_have_attribute("data-points", str(week))
    expect(page.locator("#revenue-empty")).to_be_hidden()

    page.locator("#revenue-range [data-range='30d']").click()
    expect(page.locator("#revenue-range .active")).to_have_text("Last 30D")
    expect(canvas).to_have_attribute("data-points", str(expected_points(live_server, last - timedelta(days=29), last)))

    page.locator("#revenue-range button", has_text="Yesterday").click()
    expect(page.locator("#revenue-range .active")).to_have_text("Yesterday")
    expect(canvas).to_have_attribute("data-points", "3")

    page.locator("#revenue-company").select_option("co02")
    expect(canvas).to_have_attribute("data-points", "1")
    page.locator("#revenue-range [data-range='7d']").click()
    expect(canvas).to_have_attribute("data-points", str(expected_points(live_server, last - timedelta(days=6), last,
                                                                        "co02")))
    page.locator("#revenue-company").select_option("")
    expect(canvas).to_have_attribute("data-points", str(week))

    # Chart.js is the app's own copy, no CDN; nothing went wrong in the console.
    assert chart_js and all(url.startswith(live_server.url) for url in chart_js), chart_js
    assert any(url.endswith("/static/vendor/chartjs/chart.umd.min.js") for url in chart_js), chart_js
    assert page.evaluate("() => typeof window.Chart") == "function"
    assert page_errors.items == []


def test_the_company_detail_shows_match_for_the_date_it_just_ran(admin_page, live_server):
    page, day = admin_page, epos_qbo_yesterday().isoformat()
    wait_no_active_runs(live_server)
    page.goto("/epos-qbo/companies/co01/")
    expect(page.locator("h1")).to_have_text(EPOS_QBO_COMPANIES["co01"])
    expect(page.locator("#company-state")).to_have_text("active")
    expect(page.locator(".token-health").first).to_have_text("connected")
    expect(page.locator("#run-date")).to_have_value(day)
    expect(page.locator("#run-company")).to_have_count(0)  # the form runs this company only

    panel = run_now(page, day)
    expect(panel).to_contain_text("EPOS→QBO: one company")
    expect(panel.locator(STATUS)).to_have_text("succeeded", timeout=RUN_TIMEOUT)
    expect(panel.locator('[data-role="run-message"]')).to_contain_text(f"{EPOS_QBO_COMPANIES['co01']} {day}:")
    expect(panel.locator('[data-role="run-message"]')).to_contain_text("MATCH")
    run_id = panel.locator('[data-role="run-link"]').inner_text()

    # The trading-date table is not a refreshing data area on this page: reload to see the run's row.
    page.reload()
    row = page.locator(f'#company-history tr[data-date="{day}"]')
    expect(row.locator('.recon[data-recon="MATCH"]')).to_have_text("MATCH")
    expect(row).to_contain_text(f"run {run_id}")
    epos, qbo = (row.locator("td.text-end").nth(i).inner_text() for i in (0, 1))
    assert epos == qbo and re.fullmatch(r"\d+\.\d\d", epos), (epos, qbo)
    expect(page.locator("#company-problems tbody")).to_contain_text("None.")


def test_companies_page_search_health_and_permissions(new_page, live_server):
    admin = new_page(ADMIN)
    admin.goto("/epos-qbo/companies/")
    rows = admin.locator("#companies tbody tr[data-company]")
    expect(rows).to_have_count(len(EPOS_QBO_COMPANIES))
    expect(admin.locator("#health-summary")).to_contain_text(f"connected: {len(EPOS_QBO_COMPANIES)}")
    for key in EPOS_QBO_COMPANIES:
        expect(admin.locator(f'#companies tr[data-company="{key}"] .token-health')).to_have_text("connected")

    search = admin.locator('#company-filters input[name="q"]')
    search.fill("birch")
    search.press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-company", "co02")
    expect(search).to_have_value("birch")
    search.fill("co03")
    search.press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-company", "co03")
    search.fill("no such shop")
    search.press("Enter")
    expect(admin.locator("#companies tbody")).to_contain_text("No company matches.")

    # Admin: onboarding, advanced settings, (de)activation and Run now.
    admin.goto("/epos-qbo/companies/")
    expect(admin.locator("#new-company")).to_have_text("New company")
    expect(admin.locator("#companies a", has_text="Advanced settings")).to_have_count(len(EPOS_QBO_COMPANIES))
    expect(admin.locator("#companies button", has_text="Deactivate")).to_have_count(len(EPOS_QBO_COMPANIES))
    admin.goto("/epos-qbo/")
    expect(admin.locator("#epos-qbo-run")).to_be_visible()

    viewer = new_page(VIEWER)
    viewer.goto("/epos-qbo/companies/")
    expect(viewer.locator("#companies tbody tr[data-company]")).to_have_count(len(EPOS_QBO_COMPANIES))
    expect(viewer.get_by_text("New company")).to_have_count(0)
    expect(viewer.get_by_text("Advanced settings")).to_have_count(0)
    expect(viewer.locator("#companies button")).to_have_count(0)
    viewer.goto("/epos-qbo/")
    expect(viewer.locator("#company-cards [data-company]")).to_have_count(len(EPOS_QBO_COMPANIES))
    expect(viewer.locator("#epos-qbo-run")).to_have_count(0)
    expect(viewer.locator("#epos-qbo-run-form")).to_have_count(0)
    viewer.goto("/epos-qbo/companies/co01/")
    expect(viewer.locator("h1")).to_have_text(EPOS_QBO_COMPANIES["co01"])
    expect(viewer.locator("#epos-qbo-run")).to_have_count(0)
    expect(viewer.get_by_text("Advanced settings")).to_have_count(0)


def test_a_deactivated_company_is_skipped_by_an_all_companies_run(admin_page, live_server):
    page, day = admin_page, epos_qbo_yesterday().isoformat()
    wait_no_active_runs(live_server)
    page.goto("/epos-qbo/companies/")
    row = page.locator('#companies tr[data-company="co03"]')
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    try:
        row.locator("button", has_text="Deactivate").click()
        page.wait_for_load_state("networkidle")
        expect(page.locator(".alert", has_text=f"{EPOS_QBO_COMPANIES['co03']} deactivated").first).to_be_visible()
        page.goto("/epos-qbo/companies/")
        expect(row.locator("td").nth(5)).to_have_text("inactive")
        expect(row.locator("button")).to_have_text("Activate")
        page.goto("/epos-qbo/companies/?active=inactive")
        expect(page.locator("#companies tbody tr[data-company]")).to_have_count(1)

        page.goto("/epos-qbo/")
        expect(page.locator("#company-cards [data-company]")).to_have_count(len(EPOS_QBO_COMPANIES) - 1)
        expect(page.locator('#company-cards [data-company="co03"]')).to_have_count(0)
        expect(page.locator("#run-company option", has_text=EPOS_QBO_COMPANIES["co03"])).to_have_count(0)
        panel = run_now(page, day, "All active companies")
        expect(panel.locator(STATUS)).to_have_text("succeeded", timeout=RUN_TIMEOUT)
        expect(panel.locator('[data-role="run-message"]')).to_contain_text(f"{day}: 2 of 2 companies synced")
        run_id = int(panel.locator('[data-role="run-link"]').inner_text())
        synced = {r[0] for r in live_server.query(
            "SELECT company FROM epos_qbo_reconciliations WHERE run_id = ?", run_id)}
        assert synced == {"co01", "co02"}
        expect(page.locator('#epos-qbo-kpis [data-kpi="success"]')).to_have_text("100%", timeout=15_000)
        expect(page.locator("#epos-qbo-kpis")).to_contain_text("(2 active)")
    finally:
        page.goto("/epos-qbo/companies/")
        button = page.locator('#companies tr[data-company="co03"] button')
        if button.inner_text().strip() == "Activate":
            button.click()
            page.wait_for_load_state("networkidle")
        page.goto("/epos-qbo/companies/?active=inactive")
        expect(page.locator("#companies tbody tr[data-company]")).to_have_count(0)
    # The toggle asked for no confirmation.
    assert dialogs == []
