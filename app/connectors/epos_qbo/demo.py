"""The EPOS→QBO part of `make run`: the fake's companies onboarded, and the last week synced.

The fake EPOS/QBO pair starts afresh with every `make run` (tokens "rt-<realm>-0", no receipts), so the
demo companies' tokens are written again and their ledger of an earlier fake is dropped: it would
describe receipts that no longer exist. Only the demo's own companies (key "demo-coNN") are touched.
"""
from datetime import timedelta

from sqlalchemy import delete, select

from ...extensions import db
from ...runs.service import enqueue
from ..base.connections import Connection, write_secrets, write_settings
from .models import EposQboReceipt, EposQboReconciliation
from .trading import business_rules, target_trading_date

DEMO_CLIENT = ("demo-client", "demo-secret")
DEMO_COMPANIES = 4
DEMO_DAYS = 7
NAMES = ("Harbour Café", "Northside Bakery", "Mill Lane Deli", "Quayside Bar")


def demo_env(url, _instance):
    return {"EPOS_BASE_URL": f"{url}/epos", "QBO_API_URL": f"{url}/qbo",
            "QBO_TOKEN_URL": f"{url}/qbo/oauth2/v1/tokens/bearer",
            "QBO_CLIENT_ID": DEMO_CLIENT[0], "QBO_CLIENT_SECRET": DEMO_CLIENT[1]}


def demo_realm(n):
    return f"91300000000000{n:02d}"


def onboard_demo_companies():
    """Onboard demo-co01.. against the fake, then queue all-company runs for the last DEMO_DAYS dates."""
    keys = []
    for n in range(1, DEMO_COMPANIES + 1):
        key = f"demo-co{n:02d}"
        conn = db.session.scalar(select(Connection).where(Connection.connector == "epos_qbo", Connection.key == key))
        if conn is None:
            conn = Connection(connector="epos_qbo", key=key, display_name=NAMES[n - 1], active=True, version=1,
                              settings={}, secrets="", updated_by="demo")
            db.session.add(conn)
        write_settings(conn, {"qbo_realm_id": demo_realm(n), "doc_prefix": "EPOS-", "qbo_item": "1",
                              "qbo_deposit_account": "35"}, "demo")
        write_secrets(conn, {"epos_api_key": f"key-co{n:02d}", "epos_api_secret": f"secret-co{n:02d}",
                             "qbo_refresh_token": f"rt-{demo_realm(n)}-0", "qbo_access_token": f"at-{demo_realm(n)}-0",
                             "qbo_token_meta": None}, "demo")
        keys.append(key)
    db.session.execute(delete(EposQboReceipt).where(EposQboReceipt.company.in_(keys)))
    db.session.execute(delete(EposQboReconciliation).where(EposQboReconciliation.company.in_(keys)))
    db.session.commit()
    tz, cutoff = business_rules()
    last = target_trading_date(tz, cutoff)
    for back in range(DEMO_DAYS - 1, -1, -1):
        enqueue("epos_qbo.sync_all", {"date": (last - timedelta(days=back)).isoformat()}, trigger="cli",
                requested_by="demo")
    db.session.commit()
