"""The CRM bridge part of `flask demo setup`: mappings and deal triggers the fake CRM knows, then a
first cycle, so every page has something to show."""
from pathlib import Path

from sqlalchemy import select

from ...extensions import db
from ...runs.models import Run
from ...runs.service import enqueue
from .models import CrmDealTrigger, CrmMapping

# The fake CRM's lookups (app/fakes/crm): genders 1-2, organizations 201-203, bank accounts 101-104.
DEMO_MAPPINGS = {
    "gender": {"1": "1", "2": "2"},
    "organization": {"1": "201", "2": "202", "3": "203"},
    "bank_account": {"1": "101", "2": "104", "3": "103", "4": "102", "5": "102"},
}
DEMO_DEAL_SERVICES = (1, 2, 3)
DEMO_SIZES = ("--members", "20000", "--store-invoices", "35000", "--service-invoices", "15000",
              "--receipts", "20000")


def source_path(instance_dir):
    return Path(instance_dir).resolve() / "crm_source_demo.db"


def seed_arguments(instance_dir):
    """`python` arguments that seed the demo's fake source database, or None when it is there."""
    path = source_path(instance_dir)
    return None if path.exists() else ("-m", "app.fakes.crm_source", "--url", f"sqlite:///{path}", *DEMO_SIZES)


def first_cycle():
    """Fill the demo's mappings and deal triggers once, and queue a cycle unless one has succeeded."""
    if db.session.scalar(select(CrmMapping.kind).limit(1)) is None:
        db.session.add_all(CrmMapping(kind=kind, source_value=s, target_value=t, updated_by="demo")
                           for kind, values in DEMO_MAPPINGS.items() for s, t in values.items())
        db.session.add_all(CrmDealTrigger(service_id=s, funnel_id=2, funnel_level_id=21, updated_by="demo")
                           for s in DEMO_DEAL_SERVICES)
    done = db.session.scalar(select(Run.id).where(Run.job_id == "crm.dedupe_members").limit(1))
    if done is None:
        enqueue("crm.dedupe_members", {}, trigger="cli", requested_by="demo")
    db.session.commit()
