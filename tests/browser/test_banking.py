"""The Banking pages in a real browser, against the session's fake UISP (300 clients, reset for this module)
and the bank account "main" of tests/browser/conftest.py: importing statements (live run panel, counts,
duplicates, a rejected file), posting matched credits, a bulk reconciliation of one deposit over 80
invoices (live progress; a refusal part-way rolls every payment back), and what a viewer may not do."""
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import requests
from playwright.sync_api import expect

from app.connectors.banking.identity import provider_payment_id
from app.connectors.banking.statements import Line, Statement, write_camt053

from .conftest import BANK_ACCOUNT
from .helpers import (ADMIN, TOAST, VIEWER, csrf_post, login, max_run_id, runs_since, toasts_seen,
                      wait_no_active_runs, wait_until)

pytestmark = pytest.mark.browser

IBAN = BANK_ACCOUNT[1]
RUN_TIMEOUT = 60_000  # ms
STATUS = '[data-role="run-status"] .status-badge'
MESSAGE = '[data-role="run-message"]'
BULK_INVOICES = 80
BULK_BATCH = 1  # invoices per batch (the default is 20): with latency_ms 30, a run of ~3 s, 80 progress steps
REFUSED_AT = 60  # the allocation position UISP refuses in the failing reconciliation

# Installed on a page after it loaded: every text the run panel in `selector` shows (count and message),
# so the progress frames of a short run can still be asserted after it ended.
PANEL_RECORDER_JS = """(selector) => {
  window.__panelFrames = [];
  const box = document.querySelector(selector);
  const record = () => {
    const count = box.querySelector('[data-role="run-count"]');
    const message = box.querySelector('[data-role="run-message"]');
    if (!count) return;
    const frame = {count: count.textContent.trim(), message: message ? message.textContent.trim() : ""};
    const frames = window.__panelFrames, last = frames[frames.length - 1];
    if (!last || last.count !== frame.count || last.message !== frame.message) frames.push(frame);
  };
  new MutationObserver(record).observe(box, {childList: true, subtree: true, characterData: true});
}"""


# --- the fake UISP and the server's cache of it ---------------------------------------------------------

def fake_payments(fake):
    response = requests.get(fake.root + "/__fake/payments", timeout=30)
    response.raise_for_status()
    return response.json()


def open_invoices(fake, count):
    """`count` open invoices of the fake, spread over many clients: [{"id", "clientId", "number", "cents"}]."""
    found = []
    for row in fake.post("invoices/open", {"count": count})["invoices"]:
        invoice = fake.get(f"/invoices/{row['id']}")
        found.append({"id": invoice["id"], "clientId": invoice["clientId"], "number": invoice["number"],
                      "cents": int(round(invoice["amountToPay"] * 100))})
    assert len(found) == count
    return found


def refresh_cache(page, live_server):
    """Run uisp.refresh (matching and bulk allocation read the cache) and its follower banking.match."""
    answer = csrf_post(page, "/api/jobs/uisp.refresh/run")
    assert answer["status"] in (200, 202), answer
    run_id = answer["body"]["run"]["id"]
    wait_until(lambda: live_server.scalar("SELECT status FROM runs WHERE id = ?", run_id) in
               ("succeeded", "failed", "cancelled"), timeout=60, message="uisp.refresh ended")
    assert live_server.scalar("SELECT status FROM runs WHERE id = ?", run_id) == "succeeded", live_server.log_tail()
    wait_no_active_runs(live_server)


@pytest.fixture(scope="module")
def banking(browser, live_server, fake_uisp_server):
    """The fake UISP in its seeded state, refreshed into the server's cache."""
    wait_no_active_runs(live_server)
    fake_uisp_server.reset()
    context = browser.new_context(base_url=live_server.url)
    try:
        page = context.new_page()
        login(page, *ADMIN)
        refresh_cache(page, live_server)
    finally:
        context.close()
    yield fake_uisp_server
    fake_uisp_server.faults()


@pytest.fixture
def fake(banking):
    banking.faults()
    yield banking
    banking.faults()


@pytest.fixture
def one_invoice_batches(live_server):
    """Bulk runs post BULK_BATCH invoices a batch (so progress moves in many steps); the default after."""
    wait_no_active_runs(live_server)
    live_server.put_setting("banking_bulk_batch_size", BULK_BATCH)
    yield
    live_server.put_setting("banking_bulk_batch_size", 20)


# --- statements ------------------------------------------------------------------------------------------

def day(n):
    return date.today() - timedelta(days=10 - n)


def money(cents):
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def entry(n, cents, ref, text, name="Browser Payer"):
    return Line(booking_date=day(n), value_date=day(n), amount=money(cents), currency="ZAR", bank_reference=ref,
                name=name, remittance=text)


def camt(entries, statement_id):
    entries = sorted(entries, key=lambda e: e.booking_date)
    opening = Decimal("1000.00")
    closing = opening + sum((e.amount for e in entries), Decimal("0"))
    return write_camt053([Statement(format="camt053", account=IBAN, currency="ZAR", statement_id=statement_id,
                                    opening_balance=opening, opening_date=entries[0].booking_date,
                                    closing_balance=closing, closing_date=entries[-1].booking_date,
                                    lines=tuple(entries))])


def mark_document(page):
    page.evaluate("() => { window.__sameDocument = true; }")


def same_document(page):
    return page.evaluate("() => window.__sameDocument === true")


def upload(page, filename, content):
    """On /banking/imports: choose the file, press Import; returns the run panel swapped in (no reload)."""
    page.locator("#statement-file").set_input_files({"name": filename, "mimeType": "application/xml",
                                                     "buffer": content})
    page.locator("#import-button").click()
    panel = page.locator("#banking-runs [data-run-panel]")
    expect(panel).to_be_visible()
    expect(panel.locator('[data-role="run-link"]')).to_have_text(re.compile(r"^\d+$"))
    return panel


def import_through_the_page(page, live_server, filename, content):
    """Upload a statement from the imports page and wait for its run to succeed; returns the run id."""
    page.goto("/banking/imports")
    panel = upload(page, filename, content)
    expect(panel.locator(STATUS)).to_have_text("succeeded", timeout=RUN_TIMEOUT)
    run_id = int(panel.locator('[data-role="run-link"]').inner_text())
    wait_no_active_runs(live_server)
    return run_id


def line_id(live_server, bank_reference):
    return live_server.scalar("SELECT id FROM bank_lines WHERE bank_reference = ?", bank_reference)


def allocation_csv(invoices):
    return ("invoice_number,amount\n" + "".join(f"{i['number']},{money(i['cents'])}\n" for i in invoices)).encode()


def new_reconciliation(page, live_server, invoices, ref):
    """A deposit of exactly these invoices imported, then from its line page to a checked (draft) allocation
    through the pages; returns the reconciliation id (the page is on it)."""
    total = sum(i["cents"] for i in invoices)
    import_through_the_page(page, live_server, f"{ref}.xml",
                            camt([entry(5, total, ref, "Bulk payment, see remittance advice",
                                        name="Karoo Reseller Network")], ref))
    page.goto(f"/banking/?q={ref}")
    row = page.locator("#bank-lines tbody tr[data-line]")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-line", str(line_id(live_server, ref)))
    with page.expect_navigation(url=re.compile(r"/banking/lines/\d+$")):
        row.locator("a").first.click()
    expect(page.locator("#line-amount")).to_have_text(f"{total / 100:,.2f} ZAR")
    with page.expect_navigation(url=re.compile(r"/banking/bulk/new\?line=\d+$")):
        page.get_by_role("link", name="Reconcile this deposit against many invoices").click()
    expect(page.locator("#deposit")).to_contain_text(f"{total / 100:,.2f} ZAR")
    page.locator("#alloc-csv").set_input_files({"name": f"{ref}.csv", "mimeType": "text/csv",
                                                "buffer": allocation_csv(invoices)})
    with page.expect_navigation(url=re.compile(r"/banking/bulk/\d+$")):
        page.get_by_role("button", name="Check the allocation").click()
    expect(page.locator(".alert", has_text=f"{len(invoices):,} invoices allocated and checked")).to_be_visible()
    expect(page.locator("#recon-status")).to_have_text("draft")
    expect(page.locator("#allocations tbody tr")).to_have_count(min(len(invoices), 50))
    return int(re.search(r"/banking/bulk/(\d+)$", page.url).group(1))


def start_posting(page, total):
    """Press Start posting, accept the confirm dialog; returns (the dialog's text, the run panel)."""
    dialogs = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.get_by_role("button", name="Start posting").click()
    panel = page.locator("#recon-run [data-run-panel]")
    expect(panel).to_be_visible()
    assert dialogs == [f"Post {total} payments to UISP?"], dialogs
    return panel


# --- the tests -------------------------------------------------------------------------------------------

def test_an_uploaded_camt_is_imported_live_a_second_upload_is_all_duplicates_and_a_cut_file_is_rejected(
        admin_page, live_server, fake, page_errors):
    page = admin_page
    wait_no_active_runs(live_server)
    # Odd amounts and no numbers in the text: nothing for the matcher to pick up.
    entries = [entry(0, 101_37, "BRW-IMP-1", "Browser import one"), entry(1, 202_71, "BRW-IMP-2", "Browser import two"),
               entry(2, -30_00, "BRW-IMP-3", "Bank fees", name="Bank"),
               entry(3, 303_19, "BRW-IMP-4", "Browser import four"), entry(4, 44_43, "BRW-IMP-5", "Browser import")]
    content = camt(entries, "BRW-IMP")
    page.goto("/banking/imports")
    expect(page.locator("#statement-account option", has_text=IBAN)).to_have_count(1)
    mark_document(page)

    def imported(panel, new, duplicate):
        expect(panel.locator(STATUS)).to_have_text("succeeded", timeout=RUN_TIMEOUT)
        expect(panel.locator(MESSAGE)).to_contain_text(f"browser-week.xml: {new} new, {duplicate} duplicate")
        run_id = int(panel.locator('[data-role="run-link"]').inner_text())
        import_id = live_server.scalar("SELECT id FROM bank_imports WHERE run_id = ?", run_id)
        assert import_id, run_id
        # The imports table is a data area: it swaps the new row in after the run, no reload.
        row = page.locator(f'#imports tr[data-import="{import_id}"]')
        expect(row).to_have_attribute("data-status", "accepted", timeout=15_000)
        expect(row).to_contain_text("browser-week.xml")
        expect(row.locator("td").nth(3)).to_have_text("camt053")
        expect(row.locator('[data-role="new"]')).to_have_text(str(new))
        expect(row.locator('[data-role="duplicate"]')).to_have_text(str(duplicate))
        expect(row.locator('[data-role="rejected"]')).to_have_text("0")
        expect(row).to_contain_text(f"run {run_id}")

    imported(upload(page, "browser-week.xml", content), 5, 0)
    imported(upload(page, "browser-week.xml", content), 0, 5)
    assert same_document(page), "the imports page reloaded instead of swapping the run panel and table in"
    assert live_server.scalar("SELECT COUNT(*) FROM bank_lines WHERE bank_reference LIKE 'BRW-IMP-%'") == 5

    panel = upload(page, "browser-cut.xml", content[: len(content) * 2 // 3])
    expect(panel.locator(STATUS)).to_have_text("failed", timeout=RUN_TIMEOUT)
    expect(panel.locator(MESSAGE)).to_contain_text("rejected, nothing imported")
    run_id = int(panel.locator('[data-role="run-link"]').inner_text())
    import_id = live_server.scalar("SELECT id FROM bank_imports WHERE run_id = ?", run_id)
    assert live_server.scalar("SELECT status FROM bank_imports WHERE id = ?", import_id) == "rejected"
    # The imports page asks for its data area on any end: the rejected row swaps in, no reload.
    row = page.locator(f'#imports tr[data-import="{import_id}"]')
    expect(row).to_have_attribute("data-status", "rejected")
    expect(row).to_contain_text("browser-cut.xml")
    expect(row.locator(".badge")).to_have_text("rejected")
    expect(row.locator('[data-role="reason"]')).to_contain_text("XML")
    expect(row.locator('[data-role="new"]')).to_have_text("0")
    assert same_document(page), "the imports page reloaded to show the rejected file"
    assert live_server.scalar("SELECT COUNT(*) FROM bank_lines WHERE bank_reference LIKE 'BRW-IMP-%'") == 5
    assert page_errors.items == []


def test_post_matched_payments_posts_each_matched_credit_once_and_the_table_follows(admin_page, live_server, fake):
    page = admin_page
    wait_no_active_runs(live_server)
    invoices = open_invoices(fake, 4)
    refs = [f"BRW-POST-{n}" for n in range(1, 5)]
    entries = [entry(n, inv["cents"], ref, f"BRWPOST invoice {inv['number']}")
               for n, (inv, ref) in enumerate(zip(invoices, refs))]
    import_through_the_page(page, live_server, "browser-post.xml", camt(entries, "BRW-POST"))
    before = {p["id"] for p in fake_payments(fake)["payments"]}

    page.goto("/banking/?q=BRWPOST")
    rows = page.locator("#bank-lines tbody tr[data-line]")
    expect(rows).to_have_count(4)
    for n in range(4):
        expect(rows.nth(n)).to_have_attribute("data-match", "matched")
        expect(rows.nth(n)).to_have_attribute("data-posted", "not_posted")
        expect(rows.nth(n)).to_contain_text("invoice_number")
    mark_document(page)

    page.get_by_role("button", name="Post matched payments").click()
    panel = page.locator("#banking-runs [data-run-panel]")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("Banking: post payments to UISP")
    expect(panel.locator(STATUS)).to_have_text("succeeded", timeout=RUN_TIMEOUT)
    expect(panel.locator(MESSAGE)).to_contain_text(re.compile(r"\b\d+ posted, 0 failed"))
    run_id = int(panel.locator('[data-role="run-link"]').inner_text())
    # Its outcome is toasted by the events poll (every 3 s), as a success, linking the run.
    toast = page.locator(TOAST, has_text="posted, 0 failed")
    expect(toast.last).to_be_visible(timeout=15_000)
    assert any(t["link"] == f"/runs/{run_id}" and "text-bg-success" in t["cls"] for t in toasts_seen(page)), \
        toasts_seen(page)

    # The data area refreshed itself after the run: every line posted, with its payment, no reload.
    for n in range(4):
        expect(rows.nth(n)).to_have_attribute("data-posted", "synced", timeout=15_000)
        expect(rows.nth(n)).to_contain_text(re.compile(r"posted\s+payment \d+"))
    assert same_document(page), "the Transactions page reloaded instead of refreshing its data area"

    # The fake holds exactly one new payment per line: its invoice, its amount, its identity.
    identities = {ref: live_server.scalar("SELECT identity FROM bank_lines WHERE bank_reference = ?", ref)
                  for ref in refs}
    new = [p for p in fake_payments(fake)["payments"] if p["id"] not in before]
    ours = [p for p in new if p["providerPaymentId"] in {provider_payment_id(i) for i in identities.values()}]
    assert sorted((p["invoiceIds"], p["amountCents"], p["clientId"]) for p in ours) == sorted(
        ([inv["id"]], inv["cents"], inv["clientId"]) for inv in invoices)
    assert len({p["providerPaymentId"] for p in ours}) == 4

    page.goto("/banking/history?q=BRWPOST")
    expect(page.locator("#bank-lines tbody tr[data-posted='synced']")).to_have_count(4)


def test_a_deposit_is_reconciled_over_80_invoices_with_live_progress(
        admin_page, live_server, fake, one_invoice_batches):
    page = admin_page
    invoices = open_invoices(fake, BULK_INVOICES)
    assert len({i["clientId"] for i in invoices}) > 40
    recon_id = new_reconciliation(page, live_server, invoices, "BRW-BULK-OK")
    expect(page.locator("#recon-facts")).to_contain_text(f"{BULK_INVOICES} ({BULK_INVOICES} planned)")
    assert not any((p["providerPaymentId"] or "").startswith(f"syncdeck-bulk-{recon_id}-")
                   for p in fake_payments(fake)["payments"])  # nothing is sent before Start

    fake.faults(latency_ms=30)
    page.evaluate(PANEL_RECORDER_JS, "#recon-run")
    mark_document(page)
    panel = start_posting(page, BULK_INVOICES)
    expect(panel).to_contain_text("Banking: bulk reconciliation")
    # Mid-run: the count and the message move while the page stays put.
    expect(panel.locator('[data-role="run-count"]')).to_have_text(
        re.compile(rf"^([1-9]|[1-7]\d) / {BULK_INVOICES}$"), timeout=30_000)
    expect(panel.locator(MESSAGE)).to_have_text(re.compile(rf"^\d+ of {BULK_INVOICES} invoices$"))
    expect(panel.locator(STATUS)).to_have_text("running")
    expect(panel.locator(STATUS)).to_have_text("succeeded", timeout=RUN_TIMEOUT)
    expect(panel.locator('[data-role="run-count"]')).to_have_text(f"{BULK_INVOICES} / {BULK_INVOICES}")
    expect(panel.locator(MESSAGE)).to_contain_text(f"Reconciled {BULK_INVOICES} invoices")

    frames = page.evaluate("() => window.__panelFrames")
    done = [int(m.group(1)) for f in frames if (m := re.fullmatch(rf"(\d+) / {BULK_INVOICES}", f["count"]))]
    rising = sorted({n for n in done if 0 < n < BULK_INVOICES})
    assert len(rising) >= 2 and done == sorted(done), frames
    assert any(re.fullmatch(rf"\d+ of {BULK_INVOICES} invoices", f["message"]) for f in frames), frames

    # The facts are a data area: the run's success swaps them in, no reload.
    expect(page.locator("#recon-status")).to_have_text(f"succeeded — {BULK_INVOICES} invoices paid",
                                                       timeout=15_000)
    expect(page.locator("#recon-facts")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#recon-facts")).to_contain_text(f"{BULK_INVOICES} ({BULK_INVOICES} posted)")
    expect(page.locator("#allocations tbody tr[data-status='posted']")).to_have_count(50)
    expect(page.get_by_role("button", name="Start posting")).to_have_count(0)  # the actions follow the data
    assert same_document(page), "the reconciliation page reloaded during the run"

    paid = [p for p in fake_payments(fake)["payments"]
            if (p["providerPaymentId"] or "").startswith(f"syncdeck-bulk-{recon_id}-")]
    assert sorted((p["invoiceIds"], p["amountCents"]) for p in paid) == sorted(
        ([i["id"]], i["cents"]) for i in invoices)
    page.reload()
    expect(page.get_by_role("button", name="Start posting")).to_have_count(0)
    expect(page.get_by_role("button", name="Roll back")).to_have_count(0)


def test_a_refusal_at_the_60th_invoice_rolls_the_whole_reconciliation_back(
        admin_page, live_server, fake, one_invoice_batches):
    page = admin_page
    invoices = open_invoices(fake, BULK_INVOICES)
    refused = invoices[REFUSED_AT - 1]
    recon_id = new_reconciliation(page, live_server, invoices, "BRW-BULK-NO")
    deleted_before = len(fake_payments(fake)["deleted"])

    fake.faults(latency_ms=30, payments_refuse_invoice_ids=[refused["id"]])
    mark_document(page)
    panel = start_posting(page, BULK_INVOICES)
    expect(panel.locator(STATUS)).to_have_text("failed", timeout=RUN_TIMEOUT)
    expect(panel.locator(MESSAGE)).to_contain_text(f"UISP refused the payment of invoice {refused['number']}")
    expect(panel.locator(MESSAGE)).to_contain_text(f"(#{REFUSED_AT} of the allocation)")
    expect(panel.locator(MESSAGE)).to_contain_text(f"rolled back: {REFUSED_AT - 1} payment(s) deleted")
    assert same_document(page)

    truth = fake_payments(fake)
    assert not [p for p in truth["payments"] if (p["providerPaymentId"] or "").startswith(
        f"syncdeck-bulk-{recon_id}-")], "payments of the rolled-back reconciliation are still at UISP"
    assert len(truth["deleted"]) - deleted_before == REFUSED_AT - 1
    # The reconciliation page asks for its data area on any end: the outcome swaps in, no reload.
    status = page.locator("#recon-status")
    expect(page.locator("#recon-facts")).to_have_attribute("data-status", "rolled_back")
    expect(status).to_contain_text("rolled_back — UISP refused the payment of invoice " + refused["number"])
    expect(status).to_contain_text(f"rolled back: {REFUSED_AT - 1} payment(s) deleted, nothing left at UISP")
    expect(page.locator("#recon-facts")).to_contain_text(f"{BULK_INVOICES - REFUSED_AT} planned)")
    expect(page.get_by_role("button", name="Start posting")).to_be_visible()  # fixed cause: start again
    assert same_document(page), "the reconciliation page reloaded to show the rollback"
    page.goto("/banking/bulk/")
    row = page.locator(f'#reconciliations tr[data-recon="{recon_id}"]')
    expect(row).to_have_attribute("data-status", "rolled_back")
    expect(row).to_contain_text(refused["number"])


def test_a_viewer_sees_the_banking_pages_without_post_or_start(new_page, live_server, fake, page_errors):
    admin = new_page(ADMIN)
    wait_no_active_runs(live_server)
    other = entry(6, 77_11, "BRW-VIEW-OTHER", "Browser viewer credit")
    import_through_the_page(admin, live_server, "browser-view.xml", camt([other], "BRW-VIEW-OTHER"))
    recon_id = new_reconciliation(admin, live_server, open_invoices(fake, 3), "BRW-VIEW-BULK")
    expect(admin.get_by_role("button", name="Start posting")).to_be_visible()
    admin.goto("/banking/")
    expect(admin.get_by_role("button", name="Post matched payments")).to_be_visible()
    deposit, credit = line_id(live_server, "BRW-VIEW-BULK"), line_id(live_server, "BRW-VIEW-OTHER")
    admin.goto(f"/banking/lines/{credit}")
    expect(admin.locator("#assign-form")).to_be_visible()
    expect(admin.locator("#bulk-link")).to_be_visible()

    viewer = new_page(VIEWER)
    errors_before = len(page_errors.items)
    viewer.goto("/banking/")
    expect(viewer.locator("#bank-lines tbody tr[data-line]").first).to_be_visible()
    expect(viewer.get_by_role("button", name="Post matched payments")).to_have_count(0)
    expect(viewer.get_by_role("button", name="Match again")).to_have_count(0)
    expect(viewer.get_by_role("button", name="Ignore chosen")).to_have_count(0)
    viewer.goto("/banking/imports")
    expect(viewer.locator("#imports tbody tr[data-import]").first).to_be_visible()
    expect(viewer.locator("#import-form")).to_have_count(0)
    expect(viewer.locator("#import-button")).to_have_count(0)
    viewer.goto(f"/banking/lines/{credit}")
    expect(viewer.locator("#line-amount")).to_have_text("77.11 ZAR")
    expect(viewer.locator("#assign-form")).to_have_count(0)
    expect(viewer.locator("#bulk-link")).to_have_count(0)
    viewer.goto(f"/banking/lines/{deposit}")
    expect(viewer.get_by_role("link", name=f"#{recon_id}")).to_be_visible()
    viewer.goto(f"/banking/bulk/{recon_id}")
    expect(viewer.locator("#recon-status")).to_have_text("draft")
    expect(viewer.locator("#allocations tbody tr")).to_have_count(3)
    expect(viewer.get_by_role("button", name="Start posting")).to_have_count(0)
    expect(viewer.get_by_role("button", name="Roll back")).to_have_count(0)
    viewer.goto(f"/banking/bulk/new?line={credit}")
    expect(viewer.locator("#deposit")).to_contain_text("77.11 ZAR")
    expect(viewer.locator("#allocation-form")).to_have_count(0)
    for path, table in (("/banking/failed", "#bank-lines"), ("/banking/history", "#bank-lines"),
                        ("/banking/bulk/", "#reconciliations")):
        viewer.goto(path)
        expect(viewer.locator(table)).to_be_visible()
        expect(viewer.get_by_role("button", name="Post matched payments")).to_have_count(0)
    assert page_errors.items[errors_before:] == []

    # The server refuses too (403 JSON; the browser logs that 403 itself, so console errors were checked first).
    runs_before = live_server.scalar("SELECT COUNT(*) FROM runs WHERE job_id LIKE 'banking.%'")
    assert csrf_post(viewer, "/banking/post")["status"] == 403
    assert csrf_post(viewer, f"/banking/bulk/{recon_id}/start")["status"] == 403
    assert live_server.scalar("SELECT COUNT(*) FROM runs WHERE job_id LIKE 'banking.%'") == runs_before
    assert live_server.scalar("SELECT status FROM bank_reconciliations WHERE id = ?", recon_id) == "draft"



def test_cancelling_the_start_posting_confirm_posts_nothing(admin_page, live_server, fake):
    page = admin_page
    wait_no_active_runs(live_server)
    recon_id = new_reconciliation(page, live_server, open_invoices(fake, 2), "BRW-BULK-CANCEL")
    before = max_run_id(live_server)
    page.evaluate("""() => { window.__htmxRequests = 0;
        document.body.addEventListener("htmx:beforeRequest", () => { window.__htmxRequests += 1; }); }""")
    dialogs = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.get_by_role("button", name="Start posting").click()
        assert dialogs == ["Post 2 payments to UISP?"]
        # htmx issues its request within the submit handler: by now it has, or it never will.
        assert page.evaluate("() => window.__htmxRequests") == 0, "Cancel did not stop the request"
        assert runs_since(live_server, before, "banking.bulk_reconcile") == []
        assert live_server.scalar("SELECT status FROM bank_reconciliations WHERE id = ?", recon_id) == "draft"
    finally:
        wait_no_active_runs(live_server)
