"""Banking: bank statements imported without duplicates, credits matched to UISP customers and posted to
UISP once, and bulk reconciliation of one deposit against many invoices, all or nothing."""
from ..base import ConfigKey, Connector, NavItem
from . import jobs, models  # noqa: F401 — importing declares our tables and the jobs
from .accounts import CONNECTION
from .demo import demo_setup
from .posting import STREAM_DECLARATION
from .routes import bp
from .settings import SETTINGS

connector = Connector(
    id="banking",
    title="Banking",
    description="Bank statements (CSV, MT940, CAMT.053, OFX) matched to UISP customers and posted as payments.",
    blueprints=(bp,),
    nav=(NavItem("Banking", "banking.transactions"),),
    settings=SETTINGS,
    activity_actions=("statement_imported", "statement_rejected", "line_assigned", "lines_set_aside",
                      "payments_posting_requested", "bulk_reconciliation_created", "bulk_reconciliation_started"),
    connection=CONNECTION,
    streams=(STREAM_DECLARATION,),
    config=(
        ConfigKey("BANKING_INBOX", "", "A folder watched for statement files (every 5 minutes): files in it must name "
                  "their account; files in a sub-folder named after an account key are imported for that account. "
                  "Imported files move to imported/, refused ones to rejected/ with the reason."),
        ConfigKey("BANKING_CONCURRENCY", 8, "UISP payment requests in flight at once (posting, bulk "
                  "reconciliation and its rollback).", int),
        ConfigKey("BANKING_POST_BATCH_SIZE", 100, "Payments per batch when posting matched lines: the ledger "
                  "records a batch's outcomes in one transaction, and Terminate stops between batches.", int),
    ),
    demo_setup=demo_setup,
)
