"""Bill Stop Analysis in a real browser (seed 001): Refresh Data → live progress in rows → new data."""
import re
import sqlite3
from datetime import date

import pytest
from playwright.sync_api import expect

from .helpers import wait_no_active_runs

pytestmark = pytest.mark.browser

# Frozen segments ending this month of CPC accounts that are billed (and active): removing them
# turns those CPCs into bill stops at the next batch.
BILLED_CPC_SEGMENTS = """
    SELECT b.bseg_id FROM ci_bseg b JOIN ci_sa s ON s.sa_id = b.sa_id
    JOIN ci_sa_sp ss ON ss.sa_id = s.sa_id JOIN ci_sp_char c ON c.sp_id = ss.sp_id
    WHERE c.char_type_cd = 'CM-CPRCP' AND TRIM(c.adhoc_char_val) = 'CPC' AND b.bseg_stat_flg = '50'
      AND s.sa_status_flg IN ('20', '50') AND b.end_dt >= ? ORDER BY b.bseg_id"""


def stat(page, name):
    return page.locator(f'[data-stat="{name}"] [data-value]')


def run_batch_from_the_page(page):
    """Click the page's Refresh Data; see progress in rows mid-batch; wait for the data to be swapped in."""
    page.locator("#refresh-batch button").click()
    progress = page.locator('#batch-run [data-role="run-count"]')
    expect(progress).to_have_text(re.compile(r"^[1-9][\d,]* / 2,000$"), timeout=20_000)
    expect(page.locator('#batch-run [data-role="run-status"] .status-badge')).to_have_text("succeeded",
                                                                                          timeout=30_000)


def _make_bill_stops(ccb_url, how_many):
    path = ccb_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        month_start = date.today().replace(day=1).isoformat()
        ids = [r[0] for r in conn.execute(BILLED_CPC_SEGMENTS, (month_start,)).fetchall()]
        # One account may hold several segments; delete all this month's segments of `how_many` accounts.
        accounts = []
        for bseg_id in ids:
            acct = conn.execute("SELECT s.acct_id FROM ci_bseg b JOIN ci_sa s ON s.sa_id = b.sa_id "
                                "WHERE b.bseg_id = ?", (bseg_id,)).fetchone()[0]
            if acct not in accounts:
                accounts.append(acct)
            if len(accounts) == how_many:
                break
        conn.execute(f"""DELETE FROM ci_bseg WHERE end_dt >= ? AND sa_id IN (
            SELECT sa_id FROM ci_sa WHERE acct_id IN ({",".join("?" * len(accounts))}))""", (month_start, *accounts))
    return accounts


def test_refresh_data_shows_progress_then_new_last_update_and_counts(admin_page, live_server, ccb_demo):
    page = admin_page
    wait_no_active_runs(live_server)
    page.goto("/billing/")
    if page.locator("#no-batch").count():
        expect(page.locator("#no-batch")).to_contain_text("No batch yet")
    run_batch_from_the_page(page)
    expect(stat(page, "cpcs")).to_have_text("2,000", timeout=15_000)
    first_update = page.locator('[data-field="finished-at"]').inner_text()
    before = int(stat(page, "bill_stops").inner_text().replace(",", ""))

    made = _make_bill_stops(ccb_demo, 5)
    assert len(made) == 5
    run_batch_from_the_page(page)
    # The data area is swapped in place: five more bill stops, and a last update at least as new.
    expect(stat(page, "bill_stops")).to_have_text(f"{before + 5:,}", timeout=15_000)
    assert page.locator('[data-field="finished-at"]').inner_text() >= first_update
    page.goto("/billing/?status=Bill%20Stop&q=" + made[0].strip())
    expect(page.locator("#details-table tbody tr")).to_have_count(1)
