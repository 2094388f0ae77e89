"""Connectors: one package per source, registered explicitly by name."""
import importlib

# Each name is a package under app/connectors/ whose register(app) adds its blueprint and jobs.
ENABLED_CONNECTORS: list[str] = ["uisp", "billing_db"]

# Navbar entries added by connectors: (label, endpoint).
NAV_ITEMS: list[tuple[str, str]] = []


def init_app(app):
    from .base import connections, records
    app.register_blueprint(records.bp)
    app.register_blueprint(connections.bp)
    for name in ENABLED_CONNECTORS:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(app)


def add_nav_item(label, endpoint):
    if (label, endpoint) not in NAV_ITEMS:
        NAV_ITEMS.append((label, endpoint))
