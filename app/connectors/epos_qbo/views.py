"""What the EPOS→QBO pages show, computed from the run artifacts (one per company, date and run):
always the latest artifact per (company, trading date), so a rerun replaces what a page says."""
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from ... import settings
from ...extensions import db
from ..base.connections import Connection, SecretsError, read_secrets
from . import tokens
from .models import EposQboReconciliation as Recon
from .trading import business_rules, target_trading_date

RANGES = {"yesterday": 1, "7d": 7, "30d": 30, "90d": 90}
DEFAULT_RANGE = "7d"


def companies(active_only=False):
    query = select(Connection).where(Connection.connector == "epos_qbo")
    if active_only:
        query = query.where(Connection.active.is_(True))
    return db.session.scalars(query.order_by(Connection.display_name, Connection.key)).all()


def token_state(conn, expiring_days):
    """(state, refresh expiry) — or missing_tokens when the secrets cannot be read with this key."""
    try:
        return tokens.health(read_secrets(conn), expiring_days)
    except SecretsError:
        return "missing_tokens", None


def latest_artifacts(first_day, last_day, company=None, succeeded_only=False):
    """{(company, date): the latest artifact} over [first_day, last_day]."""
    query = select(Recon).where(Recon.trading_date >= first_day, Recon.trading_date <= last_day)
    if company:
        query = query.where(Recon.company == company)
    if succeeded_only:
        query = query.where(Recon.succeeded.is_(True))
    latest = {}
    for row in db.session.scalars(query.order_by(Recon.processed_at, Recon.id)):
        latest[(row.company, row.trading_date)] = row
    return latest


def company_history(company, limit=30):
    """The latest artifact of each of the company's `limit` most recent trading dates, newest first."""
    days = db.session.scalars(select(Recon.trading_date).where(Recon.company == company).distinct()
                              .order_by(Recon.trading_date.desc()).limit(limit)).all()
    if not days:
        return []
    latest = latest_artifacts(min(days), max(days), company)
    return sorted(latest.values(), key=lambda row: row.trading_date, reverse=True)


def last_successful(keys):
    """{company: its latest successful artifact} (any date): "N receipts from latest sync (date)"."""
    found = {}
    query = (select(Recon).where(Recon.company.in_(list(keys)), Recon.succeeded.is_(True))
             .order_by(Recon.processed_at, Recon.id))
    for row in db.session.scalars(query):
        found[row.company] = row
    return found


@dataclass
class DayKpis:
    day: object
    companies: int
    attempted: int
    succeeded: int
    avg_seconds: float | None
    receipts: int
    sales: Decimal
    mismatched: int

    @property
    def success_rate(self):
        return None if not self.attempted else 100.0 * self.succeeded / self.attempted


def target_date():
    tz, cutoff = business_rules()
    return target_trading_date(tz, cutoff)


def day_kpis(day, active):
    """Run success, average runtime and sales synced for one trading date, over the active companies."""
    keys = {c.key for c in active}
    rows = [r for (company, _), r in latest_artifacts(day, day).items() if company in keys]
    ok = [r for r in rows if r.succeeded]
    seconds = [r.seconds for r in rows if r.seconds is not None]
    return DayKpis(day, len(keys), len(rows), len(ok), sum(seconds) / len(seconds) if seconds else None,
                   sum(r.receipts_created + r.receipts_existing for r in ok),
                   sum((r.epos_total or Decimal(0) for r in ok), Decimal("0.00")),
                   sum(1 for r in rows if r.status == "MISMATCH"))


def revenue_series(range_key, company=None):
    """Chart.js data: one line per company of EPOS takings per day, from MATCH artifacts only, over
    completed trading days ending at the target date (yesterday's trading day)."""
    days = RANGES.get(range_key, RANGES[DEFAULT_RANGE])
    last = target_date()
    first = last - timedelta(days=days - 1)
    labels = [(first + timedelta(days=n)) for n in range(days)]
    latest = latest_artifacts(first, last, company)
    names = {c.key: c.display_name for c in companies()}
    series = {}
    for (key, day), row in latest.items():
        if row.status == "MATCH" and row.epos_total is not None:
            series.setdefault(key, {})[day] = float(row.epos_total)
    datasets = [{"label": names.get(key, key), "company": key, "data": [by_day.get(d) for d in labels]}
                for key, by_day in sorted(series.items(), key=lambda kv: names.get(kv[0], kv[0]))]
    return {"labels": [d.isoformat() for d in labels], "datasets": datasets, "range": range_key,
            "company": company or ""}


def expiring_days():
    return int(settings.get("epos_qbo_refresh_expiring_days"))
