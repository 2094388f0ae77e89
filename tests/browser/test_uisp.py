"""The UISP flow in a real browser (seed 000): log in → Refresh Data → progress → toast → changed data."""
import re

import pytest
from playwright.sync_api import expect

from .helpers import TOAST, refresh_texts, wait_no_active_runs

pytestmark = pytest.mark.browser

OUTCOME = re.compile(r"Refreshed 300 customers in \d+\.\d s")


@pytest.fixture
def uisp_refresh_button(live_server, fake_uisp_server):
    """Refresh Data runs uisp.refresh (the other browser tests keep their test job)."""
    fake_uisp_server.reset()
    live_server.put_setting("global_refresh_jobs", ["uisp.refresh"])
    yield fake_uisp_server
    fake_uisp_server.faults()
    live_server.put_setting("global_refresh_jobs", ["tests.sleepy"])


def refresh_and_wait_for_toast(page):
    page.locator("#refresh-btn").click()
    toast = page.locator(TOAST, has_text="Refreshed 300 customers in").last
    expect(toast).to_be_visible(timeout=60_000)
    expect(toast).to_have_text(OUTCOME)
    expect(page.locator("#refresh-text")).to_have_text("Refresh Data", timeout=10_000)


def test_refresh_data_fills_and_then_updates_the_customers_page(admin_page, live_server, uisp_refresh_button):
    fake, page = uisp_refresh_button, admin_page
    wait_no_active_runs(live_server)
    invoice = fake.get("/invoices", statuses=[1], limit=1, offset=3)[0]
    client_id = invoice["clientId"]
    page.goto(f"/uisp/customers?status=all&q={client_id}")
    refresh_and_wait_for_toast(page)
    page.reload()   # starting point: a filled cache
    row = page.locator(f'#customers-table tr[data-customer-id="{client_id}"]')
    expect(row.locator(".account-badge")).to_have_text("Active")

    # Change the source, slow it down so progress is visible, and refresh from the browser.
    fake.post(f"clients/{client_id}/archive")
    fake.post(f"invoices/{invoice['id']}/pay")
    fake.faults(latency_ms=40)
    page.locator("#refresh-btn").click()
    expect(page.locator("#refresh-text")).to_have_text(re.compile(r"^Refreshing… \d[\d,]*/\d[\d,]*$"),
                                                        timeout=20_000)
    toast = page.locator(TOAST, has_text="Refreshed 300 customers in").last
    expect(toast).to_be_visible(timeout=60_000)
    expect(toast).to_have_text(OUTCOME)

    # The list refreshes in place: the client is now archived, without reloading the page.
    expect(row.locator(".account-badge")).to_have_text("Archived", timeout=15_000)
    frames = [t for t in refresh_texts(page) if t.startswith("Refreshing… ")]
    assert len(frames) >= 2, refresh_texts(page)
    page.goto(f"/uisp/customers?q={client_id}")
    expect(page.locator(f'#customers-table tr[data-customer-id="{client_id}"]')).to_have_count(0)
    page.goto(f"/uisp/customers/{client_id}")
    line = page.locator(f"#invoice-{invoice['id']}")
    expect(line.locator('[data-field="remaining"]')).to_contain_text("0.00")
    expect(line.locator(".invoice-badge")).to_have_text("Paid")


def test_refresh_this_customer_follows_its_run_and_updates_the_page_in_place(admin_page, live_server,
                                                                              uisp_refresh_button):
    fake, page = uisp_refresh_button, admin_page
    wait_no_active_runs(live_server)
    page.goto("/uisp/customers")
    refresh_and_wait_for_toast(page)  # starting point: a filled cache
    invoice = fake.get("/invoices", statuses=[1], limit=1, offset=7)[0]
    page.goto(f"/uisp/customers/{invoice['clientId']}")
    badge = page.locator(f"#invoice-{invoice['id']} .invoice-badge")
    expect(badge).not_to_have_text("Paid")

    fake.post(f"invoices/{invoice['id']}/pay")
    page.locator("#refresh-customer button").click()
    panel = page.locator("#customer-run")
    expect(panel).to_be_visible()
    expect(panel.locator('[data-role="run-link"]')).to_have_text(re.compile(r"^\d+$"))
    expect(panel.locator('[data-role="run-status"] .status-badge')).to_have_text("succeeded", timeout=30_000)
    # The data area is swapped in place, and the button is usable again.
    expect(badge).to_have_text("Paid", timeout=15_000)
    expect(page.locator("#refresh-customer button")).to_be_enabled()
