"""Fixtures for the CRM bridge: the fake CRM as its own process, a freshly seeded fake source database,
and the app pointed at both, with the demo's mappings."""
import re

import pytest
import requests
from sqlalchemy import text

from app.connectors import load
from app.extensions import db
from app.fakes.crm_source import create_and_seed, engine_for, metadata
from app.fakes.launch import running
from tests.connectors.billing_db.conftest import source_url

LOGIN = ("09121112233", "secret", "77")
MIXED_CASE = re.compile(r"\b(" + "|".join(sorted(
    {c.name for t in metadata.tables.values() for c in t.columns if c.name != c.name.lower()}
    | {t.name for t in metadata.tables.values() if t.name != t.name.lower()}, key=len, reverse=True)) + r")\b")
SMALL = {"members": 300, "services": 30, "store_invoices": 300, "service_invoices": 150, "receipts": 200, "seed": 3}


@pytest.fixture(scope="session")
def crm_server():
    fake = load("crm").fake
    with running(fake.__class__(server=("-m", "app.fakes.crm")), "--mobile", LOGIN[0], "--password", LOGIN[1],
                 "--customer-id", LOGIN[2]) as url:
        yield FakeCrm(url)


class FakeCrm:
    """The fake CRM over HTTP: its faults, its truth and what it stores."""

    def __init__(self, url):
        self.url = url

    def _post(self, path, body=None):
        response = requests.post(f"{self.url}/__fake/{path}", json=body or {}, timeout=30)
        response.raise_for_status()
        return response.json()

    def reset(self):
        return self._post("reset")

    def faults(self, **faults):
        return self._post("faults", faults)

    def expire_tokens(self):
        return self._post("expire_tokens")

    def truth(self):
        response = requests.get(f"{self.url}/__fake/truth", timeout=30)
        response.raise_for_status()
        return response.json()

    def entities(self, entity):
        response = requests.get(f"{self.url}/__fake/entities/{entity}", timeout=30)
        response.raise_for_status()
        return response.json()

    def no_duplicates(self):
        duplicates = self.truth()["duplicates"]
        return not any(duplicates.values()), duplicates


@pytest.fixture(scope="session")
def crm_source_url(tmp_path_factory):
    return source_url(tmp_path_factory.mktemp("crm_source"), suffix="_crm")


@pytest.fixture
def crm_source(crm_source_url):
    """The fake source, seeded afresh (small) for each test; (url, summary)."""
    summary = create_and_seed(crm_source_url, **SMALL)
    return SourceDb(crm_source_url, summary)


class SourceDb:
    """The fake source database: tests change the customer's rows with plain SQL over dbo.*."""

    def __init__(self, url, summary):
        self.url, self.summary = url, summary
        self.engine = engine_for(url)

    def execute(self, sql, **params):
        with self.engine.begin() as conn:
            return conn.execute(text(self._sql(sql)), params)

    def rows(self, sql, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(self._sql(sql)), params).mappings().all()

    def scalar(self, sql, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(self._sql(sql)), params).scalar()

    def _sql(self, sql):
        # On SQLite the tables have no schema: dbo.x is x. PostgreSQL folds unquoted names to lower case,
        # where SQL Server would not: the customer's mixed-case names are quoted there.
        if self.engine.dialect.name == "sqlite":
            return sql.replace("dbo.", "")
        return MIXED_CASE.sub(lambda m: f'"{m.group(0)}"', sql)


def crm_config(crm_server, crm_source):
    """The bridge's config for the fake CRM and the seeded source (as app config or a child's env)."""
    return dict(CRM_BASE_URL=crm_server.url, CRM_SOURCE_URL=crm_source.url, CRM_MOBILE=LOGIN[0],
                CRM_PASSWORD=LOGIN[1], CRM_CUSTOMER_ID=LOGIN[2], CRM_CONCURRENCY=4, CRM_BATCH_SIZE=100,
                CRM_RETRIES=2, CRM_TIMEOUT=10)


@pytest.fixture
def crm_target(app, crm_server, crm_source):
    """The app pointed at a reset fake CRM and a freshly seeded source, with the demo's mappings."""
    crm_server.reset()
    app.config.update(crm_config(crm_server, crm_source))
    with app.app_context():
        from app.connectors.crm.demo import DEMO_MAPPINGS
        from app.connectors.crm.models import CrmMapping
        db.session.add_all(CrmMapping(kind=kind, source_value=s, target_value=t)
                           for kind, values in DEMO_MAPPINGS.items() for s, t in values.items())
        db.session.commit()
    crm_server.source = crm_source
    yield crm_server
    crm_server.faults()


@pytest.fixture
def crm(crm_target, executor):
    """crm_target, with this test's in-process executor running the jobs."""
    return crm_target
