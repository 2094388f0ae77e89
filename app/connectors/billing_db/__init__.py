"""Billing DB connector: the nightly bill-stop batch from an Oracle CC&B-style database."""
from pathlib import Path

from ... import settings
from ..base import ConfigKey, Connector, FakeSource, NavItem, SettingSpec
from . import jobs, models  # noqa: F401 — importing declares the cache tables and the job
from .api import bp as api_bp
from .demo import queue_first_batch, seed_arguments
from .routes import bp

connector = Connector(
    id="billing",
    title="Billing DB (CC&B)",
    description="The nightly bill-stop batch from an Oracle CC&B database.",
    blueprints=(bp, api_bp),
    nav=(NavItem("Bill stops", "billing.analysis"),),
    settings=(
        SettingSpec("billing_window_days", 0, settings.int_range(0, 366, "Bill-stop window (days)"),
                    "Bill-stop window (days)",
                    "0 = a CPC needs a frozen bill segment ending this month; N = within the last N days."),
        SettingSpec("billing_keep_batches", 30, settings.int_range(1, 3650, "Batch dates kept"), "Batch dates kept",
                    "How many batch dates of bill-stop results are kept."),
    ),
    config=(
        ConfigKey("BILLING_DB_URL", "", "Any SQLAlchemy URL; production: oracle+oracledb://user:password@host:1521/"
                  "?service_name=CCB (thin mode, no client)."),
        ConfigKey("BILLING_DB_SCHEMA", "", "The schema that owns the CC&B tables, e.g. CISADM, when the login user "
                  "reaches them by no synonym\n(empty: the tables are found without a prefix)."),
        ConfigKey("BILLING_CHUNK_ROWS", 10000, "Rows per chunk streamed from it by the bill-stop batch.", int),
        ConfigKey("BILLING_CHUNK_PAUSE_SECONDS", 0.0, "Seconds to pause between chunks (go easy on a busy "
                  "production database).", float),
    ),
    demo_setup=queue_first_batch,
    fake=FakeSource(
        prepare=seed_arguments,
        env=lambda _url, instance: {"BILLING_DB_URL": f"sqlite:///{Path(instance).resolve() / 'billing_demo.db'}"},
    ),
)
