"""Browser tests: one real gunicorn server on a fresh SQLite file, driven by headless Chromium.

The server is started once per session exactly as `make run` does (gunicorn wsgi:app, one
worker, eight threads, the engine in-process), with fast engine timings and the test jobs
registered. Every test gets fresh browser contexts; helpers log in through the real form.
"""
import os
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.connectors.base import FakeSource
from app.fakes.billing import create_and_seed
from app.fakes.launch import running
from tests.fakes.servers import FakeControls, fake_uisp

from .helpers import ADMIN, RECORDER_JS, VIEWER, login

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


UISP_KEY = "browser-uisp-key"
# The fake EPOS Now + QuickBooks pair: companies co01..co03, sales of the ten trading dates (UTC, cutoff
# 00:00, the app's defaults) ending yesterday, so the Overview's target trading date has sales.
EPOS_QBO_CLIENT = ("browser-client", "browser-secret")
EPOS_QBO_COMPANIES = {"co01": "Alder Bakery", "co02": "Birch Deli", "co03": "Cedar Bar"}
STARTUP_TIMEOUT = 30  # seconds for gunicorn + engine to report healthy
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS_DIR") or Path(tempfile.gettempdir()) / "syncdeck-browser-artifacts")


# --- the live server ---------------------------------------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, url, db_path, log_path, env):
        self.url, self.db_path, self.log_path, self.env = url, db_path, log_path, env

    def put_setting(self, key, value):
        """Change a setting as an admin would (through the app's own validation), from outside the server."""
        script = (SETTINGS_PUT + f"\n    settings.put({key!r}, {value!r}, 'browser-tests')\n"
                  "    db.session.commit()\n")
        _run([str(VENV_BIN / "python"), "-c", script], self.env)

    def query(self, sql, *args):
        """Read the app's database directly (read-only; the app owns all writes)."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def scalar(self, sql, *args):
        rows = self.query(sql, *args)
        return rows[0][0] if rows else None

    def log_tail(self, chars=4000):
        try:
            return Path(self.log_path).read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _run(cmd, env):
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def _flask(args, env):
    return _run([str(VENV_BIN / "flask"), "--app", "wsgi", *args], env)


SETTINGS_PUT = """
from app import create_app
from app import settings
from app.extensions import db
app = create_app()
with app.app_context():
    pass"""

# Written before the server starts. No refresh on login: the Refresh Data tests must own every
# global-refresh run they see (login refresh is covered by the unit tests).
SETTINGS_SCRIPT = """
from app import create_app
from app import settings
from app.extensions import db
app = create_app()
with app.app_context():
    settings.put("refresh_on_login_minutes", 0, "browser-tests")
    settings.put("global_refresh_jobs", ["tests.sleepy"], "browser-tests")
    db.session.commit()
"""


def _ensure_chromium():
    """The project's installer: a quiet no-op when /usr/bin/chromium is already there."""
    subprocess.run(["bash", str(ROOT / "scripts" / "install-browser.sh")], check=True, cwd=ROOT, timeout=600)
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} missing after scripts/install-browser.sh")


@pytest.fixture(scope="session")
def fake_uisp_server():
    """The fake UISP the live server's connector talks to (300 clients)."""
    with fake_uisp(300, UISP_KEY) as root:
        yield FakeControls(root, UISP_KEY)


@pytest.fixture(scope="session")
def ccb_demo(tmp_path_factory):
    """A small fake CC&B database for the Billing DB pages."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ccb')}/ccb.db"
    create_and_seed(url, crps=20, cpcs=2000, today=date.today())
    return url


def epos_qbo_yesterday():
    """The target trading date of the live server: yesterday in UTC (business timezone UTC, cutoff 00:00)."""
    return datetime.now(timezone.utc).date() - timedelta(days=1)


@pytest.fixture(scope="session")
def fake_epos_qbo():
    """The fake EPOS/QBO pair as its own process; yields its root URL."""
    with running(FakeSource(server=("-m", "app.fakes.epos_qbo")), "--companies", len(EPOS_QBO_COMPANIES),
                 "--days", 10, "--per-day", 30, "--seed", 7, "--timezone", "UTC",
                 "--end-date", epos_qbo_yesterday().isoformat(), "--client-id", EPOS_QBO_CLIENT[0],
                 "--client-secret", EPOS_QBO_CLIENT[1]) as url:
        yield url


# Run inside the server's database before it starts: co01..co03 onboarded as connections with the fake's
# starting tokens (as tests/connectors/epos_qbo/conftest.py does), companies started without a stagger.
EPOS_QBO_ONBOARD_SCRIPT = """
from app import create_app
from app import settings
from app.connectors.base.connections import Connection, write_secrets, write_settings
from app.extensions import db
app = create_app()
with app.app_context():
    settings.put("epos_qbo_stagger_seconds", 0, "browser-tests")
    for n, (key, name) in enumerate(%r.items(), start=1):
        realm = f"91300000000000{n:02d}"
        conn = Connection(connector="epos_qbo", key=key, display_name=name, active=True, version=1,
                          settings={}, secrets="", updated_by="browser-tests")
        db.session.add(conn)
        write_settings(conn, {"qbo_realm_id": realm, "doc_prefix": "EPOS-", "qbo_item": "1",
                              "qbo_deposit_account": "35"}, "browser-tests")
        write_secrets(conn, {"epos_api_key": f"key-{key}", "epos_api_secret": f"secret-{key}",
                             "qbo_refresh_token": f"rt-{realm}-0", "qbo_access_token": f"at-{realm}-0"},
                      "browser-tests")
    db.session.commit()
""" % (EPOS_QBO_COMPANIES,)

# Banking: one bank account (connection "main"), as tests/connectors/banking/conftest.py adds it; statements
# the Banking tests upload name this IBAN.
BANK_ACCOUNT = ("main", "GB82WEST12345698765432")
BANKING_ACCOUNT_SCRIPT = """
from app import create_app
from app.connectors.base.connections import Connection, write_settings
from app.extensions import db
app = create_app()
with app.app_context():
    conn = Connection(connector="banking", key=%r, display_name="Main account", active=True, version=1,
                      settings={}, secrets="", updated_by="browser-tests")
    db.session.add(conn)
    write_settings(conn, {"account": %r, "currency": "ZAR"}, "browser-tests")
    db.session.commit()
""" % BANK_ACCOUNT


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, fake_uisp_server, ccb_demo, fake_epos_qbo):
    _ensure_chromium()
    tmp = tmp_path_factory.mktemp("browser-server")
    db_path = tmp / "syncdeck.db"
    log_path = tmp / "gunicorn.log"
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "FLASK_APP")}
    env.update(DATABASE_URL=f"sqlite:///{db_path}", EXTRA_JOB_MODULES="tests.jobs",
               EXECUTOR_POLL_SECONDS="0.1", HEARTBEAT_SECONDS="0.3", SCHEDULER_RECONCILE_SECONDS="1",
               SECRET_KEY="browser-tests-fixed-secret", PYTHONUNBUFFERED="1",
               SLEEPY_DELAY="0.5",  # a 2.5 s refresh: the button's 0.8 s polls paint mid-run progress
               UISP_BASE_URL=fake_uisp_server.base_url, UISP_APP_KEY=UISP_KEY, UISP_PAGE_SIZE="50",
               BILLING_DB_URL=ccb_demo, BILLING_CHUNK_ROWS="200",
               BILLING_CHUNK_PAUSE_SECONDS="0.15",  # ten chunks over ~1.5 s: progress is seen mid-batch
               EPOS_BASE_URL=f"{fake_epos_qbo}/epos", QBO_API_URL=f"{fake_epos_qbo}/qbo",
               QBO_TOKEN_URL=f"{fake_epos_qbo}/qbo/oauth2/v1/tokens/bearer",
               QBO_CLIENT_ID=EPOS_QBO_CLIENT[0], QBO_CLIENT_SECRET=EPOS_QBO_CLIENT[1])

    setup_env = dict(env, SYNCDECK_NO_ENGINE="1")
    _flask(["db", "upgrade"], setup_env)
    _flask(["users", "create", ADMIN[0], "--password", ADMIN[1], "--admin"], setup_env)
    _flask(["users", "create", VIEWER[0], "--password", VIEWER[1], "--role", "viewer"], setup_env)
    _run([str(VENV_BIN / "python"), "-c", SETTINGS_SCRIPT], setup_env)
    _run([str(VENV_BIN / "python"), "-c", EPOS_QBO_ONBOARD_SCRIPT], setup_env)
    _run([str(VENV_BIN / "python"), "-c", BANKING_ACCOUNT_SCRIPT], setup_env)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "8",
         "--access-logfile", "-", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = LiveServer(url, db_path, log_path, setup_env)
    try:
        _wait_healthy(url, proc, server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def _wait_healthy(url, proc, server):
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as res:
                if res.status == 200:
                    return
        except urllib.error.HTTPError as exc:  # 503 until scheduler and executor have beaten
            last = f"{exc.code} {exc.read()[:300]!r}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.1)
    raise RuntimeError(f"/healthz not healthy after {STARTUP_TIMEOUT} s (last: {last}):\n{server.log_tail()}")


# --- the browser ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser(live_server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageErrors:
    """Console errors and uncaught exceptions of every page a test opened."""

    def __init__(self):
        self.items = []

    def watch(self, page):
        page.on("console", lambda msg: msg.type == "error" and self.items.append(
            f"console: {msg.text} @ {msg.location.get('url', '')}"))
        page.on("pageerror", lambda exc: self.items.append(f"pageerror: {exc}"))


@pytest.fixture
def page_errors():
    return PageErrors()


@pytest.fixture
def new_page(browser, live_server, page_errors, request):
    """Factory: a page in its own fresh context (own cookies), optionally logged in."""
    contexts, pages = [], []

    def make(user=None):
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
        context.set_default_timeout(10_000)
        context.add_init_script(RECORDER_JS)
        contexts.append(context)
        page = context.new_page()
        page_errors.watch(page)
        pages.append(page)
        if user:
            login(page, *user)
        return page

    yield make
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for i, page in enumerate(pages):
            try:
                path = ARTIFACTS / f"{request.node.name}-{i}.png"
                page.screenshot(path=str(path), full_page=True)
                print(f"screenshot: {path}")
            except Exception:
                pass
        print(f"--- server log tail ---\n{live_server.log_tail()}")
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def admin_page(new_page):
    return new_page(ADMIN)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
