"""EPOS→QBO runs against the fake EPOS Now + QuickBooks pair over HTTP: receipts posted exactly once,
reconciliation, token rotation, faults."""
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from app.connectors.base.connections import get_connection, read_secrets
from app.connectors.epos_qbo.models import EposQboReceipt, EposQboReconciliation
from app.extensions import db
from tests.connectors.epos_qbo.conftest import END, realm, sync

DAY = date(2026, 3, 27)


def _recon(app, company, day=DAY):
    with app.app_context():
        row = db.session.scalars(select(EposQboReconciliation).where(
            EposQboReconciliation.company == company, EposQboReconciliation.trading_date == day)
            .order_by(EposQboReconciliation.id.desc())).first()
        db.session.expunge(row)
        return row


def _ledger_counts(app, company):
    with app.app_context():
        return dict(db.session.execute(select(EposQboReceipt.status, func.count()).where(
            EposQboReceipt.company == company).group_by(EposQboReceipt.status)).all())


def test_a_company_day_is_posted_once_and_reconciles_to_a_match(app, epos_qbo):
    run = sync(app, DAY, "co01")
    assert run.status == "succeeded", run.reason
    expected = epos_qbo.epos_truth(1, DAY)
    docs = epos_qbo.doc_numbers(1)
    assert len(docs) == len(set(docs)) == expected["count"]
    recon = _recon(app, "co01")
    assert recon.status == "MATCH" and recon.difference == 0
    assert recon.epos_total == Decimal(str(expected["net"])).quantize(Decimal("0.01"))
    assert recon.receipts_created == expected["count"]

    again = sync(app, DAY, "co01")
    assert again.status == "succeeded"
    assert epos_qbo.doc_numbers(1) == docs  # a rerun of the same date creates nothing
    assert _recon(app, "co01").receipts_created == 0 and _recon(app, "co01").receipts_existing == len(docs)


def test_the_all_companies_run_syncs_each_active_company(app, epos_qbo):
    with app.app_context():
        get_connection("epos_qbo", "co03").active = False
        db.session.commit()
    run = sync(app, DAY)
    assert run.status == "succeeded", run.reason
    assert epos_qbo.doc_numbers(1) and epos_qbo.doc_numbers(2)
    assert epos_qbo.doc_numbers(3) == []  # inactive companies are skipped
    assert "2 of 2 companies synced" in run.summary


def test_a_sale_at_01_30_with_a_03_00_cutoff_belongs_to_the_day_before_across_the_dst_change(app, epos_qbo):
    # 29 March 2026: London's clocks go forward at 01:00 UTC. The trading day of the 28th runs from
    # 28th 03:00 GMT to 29th 03:00 BST — 23 hours.
    late, next_day = epos_qbo.add_sales(1, [
        {"DateTime": "2026-03-29T02:30:00", "TotalAmount": 12.34, "TransactionType": "Sale", "StatusId": 1},
        {"DateTime": "2026-03-29T03:00:00", "TotalAmount": 56.78, "TransactionType": "Sale", "StatusId": 1}])
    early = epos_qbo.add_sales(1, [
        {"DateTime": "2026-03-28T01:30:00", "TotalAmount": 9.99, "TransactionType": "Sale", "StatusId": 1}])[0]
    assert sync(app, date(2026, 3, 28), "co01").status == "succeeded"
    by_doc = {r["DocNumber"]: r for r in epos_qbo.truth(1)["receipts"]}
    assert by_doc[f"EPOS-{late}"]["TxnDate"] == "2026-03-28"
    assert f"EPOS-{next_day}" not in by_doc and f"EPOS-{early}" not in by_doc
    assert sync(app, date(2026, 3, 27), "co01").status == "succeeded"
    assert {r["DocNumber"]: r for r in epos_qbo.truth(1)["receipts"]}[f"EPOS-{early}"]["TxnDate"] == "2026-03-27"


def test_a_crash_after_qbo_accepted_then_a_rerun_creates_no_duplicate(app, epos_qbo):
    # QBO stores the receipts of the first batches, then answers 500 each time: we never learn it worked.
    epos_qbo.qbo_faults(realm=realm(1), accept_then_fail_next=50)
    first = sync(app, DAY, "co01")
    assert first.status == "failed"
    accepted = epos_qbo.doc_numbers(1)
    assert accepted  # they are in QuickBooks ...
    assert _ledger_counts(app, "co01").get("synced", 0) < len(accepted)  # ... but not recorded as synced
    epos_qbo.qbo_faults()
    second = sync(app, DAY, "co01")
    assert second.status == "succeeded", second.reason
    docs = epos_qbo.doc_numbers(1)
    assert len(docs) == len(set(docs)) == epos_qbo.epos_truth(1, DAY)["count"]
    assert _recon(app, "co01").status == "MATCH"
    assert _ledger_counts(app, "co01") == {"synced": len(docs)}


def test_throttling_5xx_and_garbled_answers_are_retried_without_duplicates(app, epos_qbo):
    epos_qbo.qbo_faults(realm=realm(2), fail_next=3, status=429, malformed_next=2)
    epos_qbo.epos_faults(fail_next=1, status=503)
    run = sync(app, DAY, "co02")
    assert run.status == "succeeded", run.reason
    docs = epos_qbo.doc_numbers(2)
    assert len(docs) == len(set(docs)) == epos_qbo.epos_truth(2, DAY)["count"]
    assert _recon(app, "co02", DAY).status == "MATCH"


def test_a_receipt_qbo_refuses_fails_alone_and_the_day_shows_the_mismatch(app, epos_qbo):
    ids = epos_qbo.add_sales(1, [{"DateTime": "2026-03-27T12:00:00", "TotalAmount": 5.0, "TransactionType": "Sale",
                                  "StatusId": 1}])
    epos_qbo.qbo_faults(realm=realm(1), reject_doc=[f"EPOS-{ids[0]}"])
    run = sync(app, DAY, "co01")
    assert run.status == "succeeded" and "1 refused: " in run.summary and run.rows_failed == 1
    recon = _recon(app, "co01")
    assert recon.receipts_failed == 1 and recon.status == "MISMATCH" and recon.difference == Decimal("5.00")
    with app.app_context():
        row = db.session.scalar(select(EposQboReceipt).where(EposQboReceipt.epos_id == str(ids[0])))
        assert row.status == "failed" and "Rejected by the test" in row.message
    epos_qbo.qbo_faults()
    assert sync(app, DAY, "co01").status == "succeeded"  # the failed one is retried by the next run
    assert _recon(app, "co01").status == "MATCH"


def test_an_expired_access_token_is_refreshed_and_the_rotated_refresh_token_is_stored(app, epos_qbo):
    epos_qbo.advance_clock(3700)  # the starting access token has expired
    run = sync(app, DAY, "co01")
    assert run.status == "succeeded", run.reason
    with app.app_context():
        secrets = read_secrets(get_connection("epos_qbo", "co01"))
    assert secrets["qbo_refresh_token"] != f"rt-{realm(1)}-0"
    assert secrets["qbo_token_meta"]["refresh_expires_at"]
    assert epos_qbo.truth(1)["refreshes"] == 1
    epos_qbo.advance_clock(3700)
    assert sync(app, END, "co01").status == "succeeded"  # the stored (rotated) refresh token works
    assert epos_qbo.truth(1)["refreshes"] == 2


def test_a_revoked_refresh_token_fails_the_company_with_a_reauthorise_message(app, epos_qbo):
    epos_qbo.revoke(1)
    run = sync(app, DAY)
    assert run.status == "failed"
    assert "co01" in run.reason and "re-authorise" in run.reason
    assert epos_qbo.doc_numbers(2)  # the other companies went on


def test_a_wrong_epos_secret_is_named(app, epos_qbo):
    from app.connectors.base.connections import write_secrets
    with app.app_context():
        write_secrets(get_connection("epos_qbo", "co02"), {"epos_api_secret": "wrong"})
        db.session.commit()
    run = sync(app, DAY, "co02")
    assert run.status == "failed" and "EPOS refused the company's API key" in run.reason


def test_a_day_whose_every_receipt_was_refused_is_posted_once_the_cause_is_fixed(app, epos_qbo):
    day = date(2026, 4, 5)  # no seeded sales: the whole day is these two, so the rerun's batch is the same
    ids = epos_qbo.add_sales(1, [{"DateTime": f"{day}T10:00:00", "TotalAmount": 4.0, "TransactionType": "Sale",
                                  "StatusId": 1}, {"DateTime": f"{day}T11:00:00", "TotalAmount": 6.0,
                                                   "TransactionType": "Sale", "StatusId": 1}])
    epos_qbo.qbo_faults(realm=realm(1), reject_doc=[f"EPOS-{i}" for i in ids])
    assert sync(app, day, "co01").rows_failed == 2
    epos_qbo.qbo_faults()
    assert sync(app, day, "co01").status == "succeeded"
    assert _recon(app, "co01", day).status == "MATCH"
    assert sorted(epos_qbo.doc_numbers(1)) == sorted(f"EPOS-{i}" for i in ids)
