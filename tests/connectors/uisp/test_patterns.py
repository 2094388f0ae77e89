"""Payment patterns, checked against a second, independent reading of the fake's own API data."""
from collections import defaultdict
from datetime import date, datetime, timezone

from sqlalchemy import select

from app.connectors.uisp.models import PaymentPattern
from app.extensions import db
from tests.conftest import put_settings
from tests.runs.helpers import run_job


def _all(uisp, path, **params):
    rows, offset = [], 0
    while True:
        page = uisp.get(path, limit=1000, offset=offset, **params)
        rows += page
        if len(page) < 1000:
            return rows
        offset += 1000


def expected_patterns(uisp, today):
    """The rule of patterns.py, applied in plain Python to the JSON the API serves."""
    paid_at = {}
    pays = defaultdict(list)
    for p in _all(uisp, "/payments"):
        when = datetime.strptime(p["createdDate"], "%Y-%m-%dT%H:%M:%S%z").astimezone(timezone.utc).date()
        pays[p["clientId"]].append((p["amount"], when))
        for cover in p["paymentCovers"]:
            paid_at[cover["invoiceId"]] = max(paid_at.get(cover["invoiceId"], when), when)
    result = defaultdict(lambda: {"on_time": 0, "late": 0, "missed": 0, "days": []})
    for inv in _all(uisp, "/invoices", **{"statuses[]": [1, 2, 3]}):
        due = date.fromisoformat(inv["dueDate"][:10])
        r = result[inv["clientId"]]
        settled = inv["amountToPay"] <= 0   # the remaining amount decides, not the status
        when = paid_at.get(inv["id"])
        if settled and (when is None or when <= due):
            r["on_time"] += 1
        elif settled:
            r["late"] += 1
            r["days"].append((when - due).days)
        elif due < today:
            r["missed"] += 1
    return result, pays


def test_patterns_follow_the_documented_rule_for_every_customer(app, uisp, refreshed):
    """Seed 000 defect 7: the analysis guessed from the status field instead of the remaining amount."""
    with app.app_context():
        from app.connectors.uisp.patterns import business_today
        today = business_today()
        stored = {p.client_id: p for p in db.session.scalars(select(PaymentPattern))}
    expected, pays = expected_patterns(uisp, today)
    assert len(stored) == uisp.stats()["clients"]
    risky = 0
    for client_id, pattern in stored.items():
        want = expected[client_id]
        avg_late = sum(want["days"]) / len(want["days"]) if want["days"] else 0.0
        got = (pattern.on_time_count, pattern.late_count, pattern.missed_count)
        assert got == (want["on_time"], want["late"], want["missed"]), client_id
        assert abs(pattern.avg_days_late - avg_late) < 0.01, client_id
        cents = [round(a * 100) for a, _ in pays[client_id]]
        # SQL's ROUND takes halves away from zero.
        assert pattern.avg_payment_cents == ((2 * sum(cents) + len(cents)) // (2 * len(cents)) if cents else 0)
        is_risky = want["missed"] >= 2 or want["late"] >= 3 or avg_late > 30
        assert pattern.is_risky == is_risky, client_id
        risky += is_risky
    assert 0 < risky < len(stored)
    assert any(p.late_count for p in stored.values()) and any(p.missed_count for p in stored.values())


def test_risk_thresholds_come_from_settings(app, uisp, refreshed):
    with app.app_context():
        before = db.session.scalar(select(db.func.count()).where(PaymentPattern.is_risky))
    put_settings(app, uisp_risky_missed=1000, uisp_risky_late=1000, uisp_risky_avg_days_late=3650)
    assert before > 0
    assert run_job(app, "uisp.refresh").status == "succeeded"
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).where(PaymentPattern.is_risky)) == 0


def test_risk_settings_are_validated_on_the_settings_page(app, admin):
    response = admin.post("/settings", data={"uisp_risky_missed": "-1"})
    assert response.status_code == 400
    assert "Risky: missed invoices" in response.get_data(as_text=True)
