"""A daily look at every company's QuickBooks refresh token: the run fails (and so notifies, as Settings
say for failed runs) when one has expired or expires within the threshold, naming each."""
from ... import settings
from ...runs.registry import job
from ..base.connections import SecretsError, active_connections, read_secrets
from . import tokens


def token_report():
    """[(connection, state, refresh expiry)] of every active company, worst first."""
    days = int(settings.get("epos_qbo_refresh_expiring_days"))
    rows = []
    for conn in active_connections("epos_qbo"):
        try:
            state, expires = tokens.health(read_secrets(conn), days)
        except SecretsError:
            state, expires = "missing_tokens", None
        rows.append((conn, state, expires))
    order = {s: n for n, s in enumerate(("refresh_expired", "missing_tokens", "missing_refresh_token",
                                         "refresh_expiring", "connected"))}
    return sorted(rows, key=lambda row: (order[row[1]], row[0].key))


@job("epos_qbo.check_tokens", title="EPOS→QBO: check QuickBooks tokens", connector="epos_qbo", cron="0 7 * * *",
     timeout=300)
def check_tokens(ctx):
    """Fails, naming each company, when a QuickBooks refresh token is missing, expired or expiring soon."""
    report = token_report()
    trouble = [(conn, state, expires) for conn, state, expires in report if state != "connected"]
    ctx.count(fetched=len(report))
    for conn, state, expires in trouble:
        ctx.log.warning("%s: %s%s", conn.display_name, state, f" (refresh token expires {expires:%Y-%m-%d})"
                        if expires else "")
    ctx.summary = f"{len(report) - len(trouble)} of {len(report)} companies connected"
    if trouble:
        raise RuntimeError("QuickBooks needs re-authorisation: " + "; ".join(
            f"{conn.display_name} {state}" + (f" {expires:%Y-%m-%d}" if expires else "")
            for conn, state, expires in trouble))
