"""Connectors: one package per source, each exposing one `connector` declaration, enabled by name.

init_app reads the enabled declarations into the app (app.extensions), so that the navbar, the
Settings and Roles pages, the activity filter, config defaults, the demo and the fakes all loop
over them: adding a connector touches its package and one line here.
"""
import importlib

from flask import current_app, has_app_context

from ..auth.models import PERMISSIONS
from .base import Connector, NavItem, connections, records

# Each name is a package under app/connectors/ whose `connector` is a base.Connector.
ENABLED_CONNECTORS: list[str] = ["uisp", "billing_db", "crm", "epos_qbo", "banking"]


def load(name) -> Connector:
    """The declaration of the connector package `name` (under app/connectors/)."""
    declared = getattr(importlib.import_module(f"{__name__}.{name}"), "connector", None)
    if not isinstance(declared, Connector):
        raise TypeError(f"app.connectors.{name} must expose `connector = Connector(...)`")
    return declared


def init_app(app):
    """Read every enabled connector's declaration into the app and register its pages."""
    enabled = [load(name) for name in app.config.get("ENABLED_CONNECTORS") or ENABLED_CONNECTORS]
    app.extensions["syncdeck_connectors"] = enabled
    app.extensions["syncdeck_settings"] = {spec.key: (c.id, spec) for c in enabled for spec in c.settings}
    app.extensions["syncdeck_permissions"] = {**PERMISSIONS, **{k: v for c in enabled for k, v in c.permissions.items()}}
    app.extensions["syncdeck_actions"] = tuple(a for c in enabled for a in c.activity_actions)
    for connector in enabled:
        for key in connector.config:
            app.config.setdefault(key.name, key.read())
        for blueprint in connector.blueprints:
            app.register_blueprint(blueprint)
    app.register_blueprint(records.bp)
    app.register_blueprint(connections.bp)


def enabled():
    """The enabled connectors' declarations (none outside an app)."""
    return current_app.extensions.get("syncdeck_connectors", []) if has_app_context() else []


def nav_items():
    """The navbar's connector links, then the shared pages a connector's shape brings."""
    items = [item for c in enabled() for item in c.nav]
    if any(c.streams for c in enabled()):
        items.append(NavItem("Records", "records.index"))
    if any(c.connection is not None for c in enabled()):
        items.append(NavItem("Connections", "connections.index"))
    return items


def find(connector_id):
    """The enabled connector with this id, or None."""
    return next((c for c in enabled() if c.id == connector_id), None)
