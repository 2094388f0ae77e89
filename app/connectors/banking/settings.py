"""Banking's rules and thresholds on the Settings page (manage_settings)."""
from ... import settings
from ..base import SettingSpec


def _flag(label):
    def check(value):
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise settings.SettingError(f"{label} must be yes or no")
    return check


SETTINGS = (
    SettingSpec("banking_match_invoice_number", True, _flag("Match by invoice number"),
                "Banking: match by invoice number", "An open invoice's number in the remittance text names its customer."),
    SettingSpec("banking_match_customer_number", True, _flag("Match by customer number"),
                "Banking: match by customer number", "A customer number (UISP's custom id) in the remittance text."),
    SettingSpec("banking_match_amount", True, _flag("Match by amount"),
                "Banking: match by amount alone",
                "A credit equal to exactly one customer's open invoice (or open total) matches that customer; "
                "two or more such customers need review."),
    SettingSpec("banking_name_suggestion_score", 85, settings.int_range(50, 100, "Name suggestion score"),
                "Banking: name suggestion from score",
                "Names at least this similar (0–100) are suggested; a name never matches by itself."),
    SettingSpec("banking_bulk_batch_size", 20, settings.int_range(1, 500, "Bulk batch size"),
                "Banking: bulk reconciliation batch size",
                "Invoices posted per batch; progress, Terminate and the rollback work batch by batch."),
)
