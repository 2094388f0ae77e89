"""Fixtures for EPOS→QBO: the fake EPOS Now + QuickBooks pair as its own process, and the app pointed at
it with companies onboarded as connections (Europe/London, trading day cutoff 03:00)."""
from datetime import date, timedelta

import pytest
import requests

from app import settings
from app.connectors import load
from app.connectors.base.connections import Connection, write_secrets, write_settings
from app.extensions import db
from app.fakes.launch import running
from tests.runs.helpers import run_job

CLIENT = ("test-client", "test-secret")
COMPANIES = 3
END = date(2026, 3, 30)  # the days before include the spring DST change (29 March 2026 in London)
TZ, CUTOFF = "Europe/London", "03:00"


def realm(n):
    return f"91300000000000{n:02d}"


@pytest.fixture(scope="session")
def epos_qbo_server():
    fake = load("epos_qbo").fake
    with running(fake.__class__(server=("-m", "app.fakes.epos_qbo")), "--companies", COMPANIES, "--days", 10,
                 "--per-day", 40, "--seed", 7, "--timezone", TZ, "--end-date", END.isoformat(),
                 "--client-id", CLIENT[0], "--client-secret", CLIENT[1]) as url:
        yield Fakes(url)


class Fakes:
    """The fake pair over HTTP: its controls and its truth."""

    def __init__(self, url):
        self.url, self.epos, self.qbo = url, f"{url}/epos", f"{url}/qbo"

    def _call(self, method, url, **kwargs):
        response = requests.request(method, url, timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def reset(self):
        self._call("POST", f"{self.epos}/_fake/reset")
        self._call("POST", f"{self.qbo}/_fake/reset")

    def qbo_faults(self, **faults):
        return self._call("POST", f"{self.qbo}/_fake/faults", json=faults)

    def epos_faults(self, **faults):
        return self._call("POST", f"{self.epos}/_fake/faults", json=faults)

    def truth(self, n):
        return self._call("GET", f"{self.qbo}/_fake/truth", params={"realm": realm(n)})

    def epos_truth(self, n, day):
        start = f"{day.isoformat()}T03:00:00"
        end = f"{(day + timedelta(days=1)).isoformat()}T03:00:00"
        return self._call("GET", f"{self.epos}/_fake/truth", params={"company": f"co{n:02d}", "startDate": start,
                                                                     "endDate": end})

    def add_sales(self, n, transactions):
        return self._call("POST", f"{self.epos}/_fake/transactions",
                          json={"company": f"co{n:02d}", "transactions": transactions})["ids"]

    def advance_clock(self, seconds):
        return self._call("POST", f"{self.qbo}/_fake/clock", json={"advance": seconds})

    def revoke(self, n):
        return self._call("POST", f"{self.qbo}/_fake/revoke", json={"realm": realm(n)})

    def doc_numbers(self, n):
        return [r["DocNumber"] for r in self.truth(n)["receipts"]]


def onboard(n, display_name=None, **secrets):
    """Company coNN as a connection (inside an app context), with the fake's starting tokens."""
    conn = Connection(connector="epos_qbo", key=f"co{n:02d}", display_name=display_name or f"Company {n}",
                      active=True, version=1, settings={}, secrets="")
    db.session.add(conn)
    write_settings(conn, {"qbo_realm_id": realm(n), "doc_prefix": "EPOS-", "qbo_item": "1",
                          "qbo_deposit_account": "35"})
    write_secrets(conn, {"epos_api_key": f"key-co{n:02d}", "epos_api_secret": f"secret-co{n:02d}",
                         "qbo_refresh_token": f"rt-{realm(n)}-0", "qbo_access_token": f"at-{realm(n)}-0", **secrets})
    db.session.commit()
    return conn


def epos_qbo_config(fakes):
    return dict(EPOS_BASE_URL=fakes.epos, QBO_API_URL=fakes.qbo, QBO_TOKEN_URL=f"{fakes.qbo}/oauth2/v1/tokens/bearer",
                QBO_CLIENT_ID=CLIENT[0], QBO_CLIENT_SECRET=CLIENT[1], QBO_TIMEOUT=10.0, EPOS_TIMEOUT=10.0,
                QBO_CONCURRENCY=4)


@pytest.fixture
def epos_qbo_target(app, epos_qbo_server):
    """The app pointed at a reset fake pair, business day Europe/London from 03:00, companies co01..co03."""
    epos_qbo_server.reset()
    app.config.update(epos_qbo_config(epos_qbo_server))
    with app.app_context():
        settings.put("business_timezone", TZ)
        settings.put("day_cutoff", CUTOFF)
        settings.put("epos_qbo_stagger_seconds", 0)
        for n in range(1, COMPANIES + 1):
            onboard(n)
        db.session.commit()
    yield epos_qbo_server
    epos_qbo_server.qbo_faults()
    epos_qbo_server.epos_faults()


@pytest.fixture
def epos_qbo(epos_qbo_target, executor):
    """epos_qbo_target, with this test's in-process executor running the jobs."""
    return epos_qbo_target


def sync(app, day, company=None, timeout=60):
    """Run one company (or all) for a trading date and return the finished run."""
    if company:
        return run_job(app, "epos_qbo.sync_company", {"company": company, "date": day.isoformat()}, timeout=timeout)
    return run_job(app, "epos_qbo.sync_all", {"date": day.isoformat()}, timeout=timeout)
