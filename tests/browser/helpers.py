"""Helpers shared by the browser tests (imported by conftest.py and the test modules)."""
from tests.conftest import wait_for

ADMIN = ("admin", "admin-password-1")
VIEWER = ("viewer", "viewer-password-1")


def login(page, username, password):
    """Sign in through the real login form and land on a page with the navbar."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#current-user")
    assert page.locator("#current-user").inner_text() == username
    # Let the page's first requests settle so a later click starts from a known state.
    page.wait_for_load_state("networkidle")


def csrf_post(page, url, payload=None):
    """POST JSON from inside the page (its cookies, its CSRF token); returns {status, body}."""
    return page.evaluate(
        """async ([url, payload]) => {
            const csrf = document.querySelector('meta[name="csrf-token"]').content;
            const res = await fetch(url, {method: "POST", credentials: "same-origin",
                headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf},
                body: JSON.stringify(payload || {})});
            return {status: res.status, body: await res.json().catch(() => null)};
        }""", [url, payload])


def wait_until(predicate, timeout=15.0, interval=0.1, message="condition"):
    """Poll a server-side condition (e.g. a DB row) with a bound; for waits outside the page."""
    return wait_for(predicate, timeout=timeout, interval=interval, message=message)


def runs_since(server, after_id, job_id=None):
    sql = "SELECT id, job_id, status, trigger FROM runs WHERE id > ?"
    args = [after_id]
    if job_id:
        sql += " AND job_id = ?"
        args.append(job_id)
    return server.query(sql + " ORDER BY id", *args)


def max_run_id(server):
    return server.scalar("SELECT COALESCE(MAX(id), 0) FROM runs")


def wait_no_active_runs(server, timeout=30):
    wait_until(lambda: server.scalar("SELECT COUNT(*) FROM runs WHERE status IN ('queued','running')") == 0,
               timeout=timeout, message="no queued/running runs")


TOAST = ".syncdeck-toast"

# Installed in every context: records every text the Refresh Data button shows and every toast
# added, so short-lived states (a progress frame, an auto-hidden toast) can still be asserted.
# The button is swapped whole by each server fragment, so its container is watched, not the text node.
RECORDER_JS = """
(() => {
  window.__refreshTexts = [];
  window.__toasts = [];
  document.addEventListener("DOMContentLoaded", () => {
    const box = document.getElementById("refresh-box");
    if (box) {
      const record = () => {
        const text = document.getElementById("refresh-text");
        const texts = window.__refreshTexts;
        if (text && text.textContent !== texts[texts.length - 1]) texts.push(text.textContent);
      };
      record();
      new MutationObserver(record).observe(box.parentElement, {childList: true, subtree: true, characterData: true});
    }
    const toasts = document.getElementById("toasts");
    if (toasts) {
      new MutationObserver((records) => {
        for (const r of records) for (const n of r.addedNodes) {
          if (n.nodeType !== 1) continue;
          const a = n.querySelector("a");
          window.__toasts.push({text: n.textContent.trim(), cls: n.className, link: a ? a.getAttribute("href") : null,
                                at: Date.now()});
        }
      }).observe(toasts, {childList: true});
    }
  });
})();
"""


def refresh_texts(page):
    return page.evaluate("() => window.__refreshTexts")


def toasts_seen(page):
    return page.evaluate("() => window.__toasts")
