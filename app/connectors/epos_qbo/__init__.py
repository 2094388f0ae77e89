"""EPOS→QBO: each company's EPOS Now sales of a trading date posted to its QuickBooks Online company as
receipts, exactly once, then reconciled; companies with token health, KPIs and a revenue chart."""
from ..base import ConfigKey, Connector, FakeSource, NavItem
from ..base.connection_models import ConnectionSpec, Field
from . import jobs, models, token_check  # noqa: F401 — importing declares our tables and the jobs
from .demo import DEMO_CLIENT, demo_env, onboard_demo_companies
from .routes import bp
from .settings import SETTINGS

CONNECTION = ConnectionSpec(
    multiple=True, key_label="Company key",
    help="One company: its EPOS Now API key and secret, its QuickBooks company (realm) and tokens.",
    fields=(
        Field("epos_api_key", "EPOS API key", secret=True, required=True),
        Field("epos_api_secret", "EPOS API secret", secret=True, required=True),
        Field("qbo_realm_id", "QuickBooks company (realm) id", required=True),
        Field("qbo_refresh_token", "QuickBooks refresh token", secret=True,
              help="From the OAuth consent (Intuit's OAuth playground or your app's connect flow); rotated by "
                   "every refresh and stored here again."),
        Field("qbo_access_token", "QuickBooks access token", secret=True, help="Optional: fetched when missing."),
    ),
    settings=(
        Field("doc_prefix", "DocNumber prefix", default="EPOS-",
              help="Receipts are numbered prefix + EPOS transaction id (at most 21 characters in all)."),
        Field("qbo_item", "QBO item id for sales lines", default="1"),
        Field("qbo_deposit_account", "QBO deposit account id", default="35"),
    ),
)

connector = Connector(
    id="epos_qbo",
    title="EPOS→QBO",
    description="EPOS Now sales of each company posted to QuickBooks Online as receipts, then reconciled.",
    blueprints=(bp,),
    nav=(NavItem("EPOS→QBO", "epos_qbo.overview"),),
    settings=SETTINGS,
    connection=CONNECTION,
    config=(
        ConfigKey("EPOS_BASE_URL", "", "Base URL of the EPOS Now API, e.g. https://api.eposnowhq.com (make run "
                  "points it at the fake)."),
        ConfigKey("EPOS_TIMEOUT", 30.0, "Seconds to wait for EPOS per request.", float),
        ConfigKey("QBO_API_URL", "", "QuickBooks Online API root, e.g. https://quickbooks.api.intuit.com."),
        ConfigKey("QBO_TOKEN_URL", "", "Intuit's OAuth2 token endpoint, e.g. "
                  "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer."),
        ConfigKey("QBO_CLIENT_ID", "", "Your Intuit app's client id and secret (one app for every company)."),
        ConfigKey("QBO_CLIENT_SECRET", ""),
        ConfigKey("QBO_TIMEOUT", 30.0, "Seconds to wait for QuickBooks per request.", float),
        ConfigKey("QBO_CONCURRENCY", 8, "Requests in flight per company (QuickBooks allows 10 per realm).", int),
        ConfigKey("QBO_BATCH_SIZE", 30, "Receipts per batch request (QuickBooks takes at most 30).", int),
        ConfigKey("QBO_RETRIES", 5, "Resends of a request on 429 (after Retry-After), 5xx and lost answers; every "
                  "write carries a request id, so a resend never creates twice.", int),
    ),
    demo_setup=onboard_demo_companies,
    fake=FakeSource(server=("-m", "app.fakes.epos_qbo", "--client-id", DEMO_CLIENT[0], "--client-secret",
                            DEMO_CLIENT[1]), env=demo_env, demo_args=("--companies", "4", "--days", "30")),
)
