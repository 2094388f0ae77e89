"""EPOS→QBO's portal-wide defaults on the Settings page (manage_settings). The trading day itself comes
from the core settings: business timezone and day cutoff."""
from ... import settings
from ..base import SettingSpec


def _amount(label, high):
    def check(value):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise settings.SettingError(f"{label} must be a number") from None
        if not 0 <= number <= high:
            raise settings.SettingError(f"{label} must be between 0 and {high:g}")
        return number
    return check


SETTINGS = (
    SettingSpec("epos_qbo_parallel", 2, settings.int_range(1, 20, "Companies at once"), "EPOS→QBO: companies at once",
                "How many companies an all-companies run syncs side by side."),
    SettingSpec("epos_qbo_stagger_seconds", 2, settings.int_range(0, 120, "Stagger (seconds)"),
                "EPOS→QBO: stagger (seconds)", "Seconds between the starts of the first companies of a run."),
    SettingSpec("epos_qbo_refresh_expiring_days", 7, settings.int_range(1, 100, "Refresh expiring (days)"),
                "EPOS→QBO: refresh token expiring within (days)",
                "A QuickBooks refresh token expiring within this many days shows as refresh_expiring and is notified."),
    SettingSpec("epos_qbo_recon_diff_warning", 1.0, _amount("Reconciliation warning", 1_000_000),
                "EPOS→QBO: reconciliation warning above",
                "A MISMATCH whose difference exceeds this amount is flagged as a warning."),
    SettingSpec("epos_qbo_stale_hours_warning", 48, settings.int_range(1, 8760, "Stale sync (hours)"),
                "EPOS→QBO: company stale after (hours)", "A company whose last successful sync is older is flagged."),
)
