"""CRM bridge: a legacy MSSQL database pushed to an Asanito-style SaaS CRM, in dependency order, with a
per-record ledger (Inspect), value mappings, deal triggers, minimum ids and a read-only data explorer."""
from ..base import ConfigKey, Connector, FakeSource, NavItem
from . import jobs, models  # noqa: F401 — importing declares our tables and the jobs
from .demo import first_cycle, seed_arguments, source_path
from .routes import bp

DEMO_LOGIN = ("09120000000", "demo", "1001")

connector = Connector(
    id="crm",
    title="CRM bridge",
    description="Members, services, invoices and receipts from an MSSQL database, pushed to the SaaS CRM.",
    blueprints=(bp,),
    nav=(NavItem("CRM bridge", "crm.inspect"),),
    activity_actions=("crm_mapping_saved", "crm_deal_trigger_saved", "crm_deal_trigger_deleted",
                      "crm_minimum_ids_saved", "crm_explorer_query"),
    config=(
        ConfigKey("CRM_SOURCE_URL", "", "SQLAlchemy URL of the source database; production: "
                  "mssql+pytds://user:password@host:1433/Club (pure Python, no ODBC)."),
        ConfigKey("CRM_BASE_URL", "", "Base URL of the CRM API, without a trailing slash (make run points it at the "
                  "fake CRM)."),
        ConfigKey("CRM_MOBILE", "", "The CRM user's mobile, password and customer id (login → bearer token)."),
        ConfigKey("CRM_PASSWORD", ""),
        ConfigKey("CRM_CUSTOMER_ID", ""),
        ConfigKey("CRM_CONCURRENCY", 8, "Calls in flight to the CRM at once (one sync step runs at a time).", int),
        ConfigKey("CRM_BATCH_SIZE", 500, "Source rows per chunk and ledger rows per transaction.", int),
        ConfigKey("CRM_TIMEOUT", 30.0, "Seconds to wait for the CRM per request.", float),
        ConfigKey("CRM_RETRIES", 4, "Retries per request on 429 (after Retry-After), 5xx and lost connections.", int),
        ConfigKey("CRM_EXPLORER_TIMEOUT_MS", 5000, "Statement timeout of a Data explorer query, in ms.", int),
    ),
    demo_setup=first_cycle,
    fake=FakeSource(
        server=("-m", "app.fakes.crm", "--mobile", DEMO_LOGIN[0], "--password", DEMO_LOGIN[1],
                "--customer-id", DEMO_LOGIN[2]),
        prepare=seed_arguments,
        env=lambda url, instance: {"CRM_BASE_URL": url, "CRM_SOURCE_URL": f"sqlite:///{source_path(instance)}",
                                   "CRM_MOBILE": DEMO_LOGIN[0], "CRM_PASSWORD": DEMO_LOGIN[1],
                                   "CRM_CUSTOMER_ID": DEMO_LOGIN[2]},
    ),
    streams=tuple(jobs.stream(name) for name in jobs.STREAMS),
)
