"""UISP CRM connector: customers, services, invoices, payments, payment patterns, suspensions."""


def register(app):
    """Add the UISP cache models, jobs, settings, pages and navbar entries to the app."""
    from ... import demo as demo_setup
    from .. import add_nav_item
    from . import jobs, models, patterns  # noqa: F401 — importing declares the tables and jobs
    from .demo import queue_first_refresh
    from .routes import bp

    patterns.register_settings()
    app.register_blueprint(bp)
    add_nav_item("Customers", "uisp.customers")
    add_nav_item("Suspensions", "uisp.suspensions")
    if queue_first_refresh not in demo_setup.SETUP_HOOKS:
        demo_setup.SETUP_HOOKS.append(queue_first_refresh)
