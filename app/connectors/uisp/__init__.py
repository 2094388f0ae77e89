"""UISP CRM connector: customers, services, invoices, payments, payment patterns, suspensions."""
from ..base import ConfigKey, Connector, FakeSource, NavItem
from . import jobs, models  # noqa: F401 — importing declares the cache tables and the jobs
from .demo import queue_first_refresh
from .patterns import RISK_SETTINGS
from .routes import bp

DEMO_APP_KEY = "demo-uisp-key"

connector = Connector(
    id="uisp",
    title="UISP CRM",
    description="Customers, services, invoices and payments from the UISP billing API.",
    blueprints=(bp,),
    nav=(NavItem("Customers", "uisp.customers"), NavItem("Suspensions", "uisp.suspensions")),
    settings=RISK_SETTINGS,
    activity_actions=("service_suspended", "service_reactivated"),
    config=(
        ConfigKey("UISP_BASE_URL", "", "Base URL of the UISP CRM API, ending in /crm/api/v1.0 "
                  "(make run points it at the fake UISP)."),
        ConfigKey("UISP_APP_KEY", "", "App key (System → Security → App keys); write access is needed to "
                  "suspend/reactivate services."),
        ConfigKey("UISP_TIMEOUT", 30.0, "Seconds to wait for UISP per request.", float),
        ConfigKey("UISP_RETRIES", 4, "Retries per request on 429/5xx/connection errors, with backoff starting "
                  "at UISP_RETRY_BACKOFF seconds.", int),
        ConfigKey("UISP_RETRY_BACKOFF", 0.5, "", float),
        ConfigKey("UISP_PAGE_SIZE", 500, "Rows per page (limit) and pages fetched at once during a refresh.", int),
        ConfigKey("UISP_CONCURRENCY", 4, "", int),
    ),
    demo_setup=queue_first_refresh,
    fake=FakeSource(
        server=("-m", "app.fakes.uisp", "--app-key", DEMO_APP_KEY),
        env=lambda url, _instance: {"UISP_BASE_URL": f"{url}/crm/api/v1.0", "UISP_APP_KEY": DEMO_APP_KEY},
        demo_args=("--clients", "2000"),
    ),
)
