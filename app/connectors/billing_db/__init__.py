"""Billing DB connector: the nightly bill-stop batch from an Oracle CC&B-style database."""
from ...dashboard import settings

SETTINGS = {
    "billing_window_days": (0, settings.int_range(0, 366, "Bill-stop window (days)"), "Bill-stop window (days)",
                            "0 = a CPC needs a frozen bill segment ending this month; N = within the last N days."),
    "billing_keep_batches": (30, settings.int_range(1, 3650, "Batch dates kept"), "Batch dates kept",
                             "How many batch dates of bill-stop results are kept."),
}


def register(app):
    """Add the bill-stop cache models, the batch job, its settings, pages, JSON API and navbar entry."""
    from ... import demo as demo_setup
    from .. import add_nav_item
    from . import jobs, models  # noqa: F401 — importing declares the tables and the job
    from .api import bp as api_bp
    from .demo import queue_first_batch
    from .routes import bp

    for key, (default, validator, label, help_text) in SETTINGS.items():
        settings.register(key, default, validator, connector="billing", label=label, help=help_text)
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    add_nav_item("Bill stops", "billing.analysis")
    if queue_first_batch not in demo_setup.SETUP_HOOKS:
        demo_setup.SETUP_HOOKS.append(queue_first_batch)
