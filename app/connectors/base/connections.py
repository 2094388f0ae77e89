"""Connections: credentials and per-company settings edited in the UI, stored encrypted.

A connector declares `Connector(..., connection=ConnectionSpec(fields=..., settings=..., multiple=True))`;
its jobs read a connection's secrets with read_secrets() and rotate OAuth tokens inside
`with locked_connection(id) as conn:` so two runs of one company refresh one after the other.
Secrets are never shown, logged or written to the activity log: pages say only "set" / "not set".
"""
import logging
from contextlib import contextmanager
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from ...auth import activity
from ...auth.permissions import permission_required
from ...db import utcnow
from ...errors import error_response
from ...extensions import db
from ...filters import choice_arg, text_arg
from . import upload  # noqa: F401  (its table is part of the app's models)
from .connection_models import Connection, ConnectionSpec, Field
from .secrets import SecretsError, decrypt_json, encrypt_json, rotate_token

__all__ = ["Connection", "ConnectionSpec", "Field", "SecretsError", "active_connections", "connection_settings",
           "get_connection", "locked_connection", "read_secrets", "reencrypt_all", "write_secrets", "write_settings"]

bp = Blueprint("connections", __name__, url_prefix="/connections")
log = logging.getLogger("syncdeck.connections")

MAX_VALUE_LENGTH = 10000  # OAuth access tokens (JWTs) run to a few thousand characters
DEFAULT_KEY = "default"   # the key of a connector's only connection (multiple=False)


# --- what jobs call -------------------------------------------------------------------

def connection_connectors():
    """(Connector, ConnectionSpec) of every enabled connector that declares connections."""
    from .. import enabled  # app.connectors imports this module first
    return [(c, c.connection) for c in enabled() if isinstance(getattr(c, "connection", None), ConnectionSpec)]


def find_spec(connector_id):
    """(Connector, ConnectionSpec) of this enabled connector, or None."""
    return next(((c, s) for c, s in connection_connectors() if c.id == connector_id), None)


def get_connection(connector_id, key=DEFAULT_KEY) -> Connection:
    """The connection `connector_id/key`; LookupError (naming it) when there is none."""
    conn = db.session.scalars(select(Connection).where(Connection.connector == connector_id,
                                                       Connection.key == key)).first()
    if conn is None:
        raise LookupError(f"No connection {connector_id}/{key}; add it on the Connections page")
    return conn


def active_connections(connector_id):
    """The connector's active connections (one run per company), by key."""
    return db.session.scalars(select(Connection).where(Connection.connector == connector_id,
                                                       Connection.active.is_(True)).order_by(Connection.key)).all()


def read_secrets(conn) -> dict:
    """The connection's decrypted secrets; SecretsError naming the connection when no key opens them."""
    return decrypt_json(conn.secrets, conn.label)


def write_secrets(conn, changes, username=""):
    """Merge changes into the secrets (None removes one) and bump the version; the caller commits."""
    merged = {**read_secrets(conn), **changes}
    _store_secrets(conn, {k: v for k, v in merged.items() if v is not None})
    _touch(conn, username)
    log.info("connection=%s secrets written fields=%s version=%s", conn.label, ",".join(sorted(changes)),
             conn.version)


def write_settings(conn, changes, username=""):
    """Merge changes into the non-secret settings (None removes one) and bump the version; the caller commits."""
    merged = {**(conn.settings or {}), **changes}
    conn.settings = {k: v for k, v in merged.items() if v is not None}  # a new dict: JSON changes are seen
    _touch(conn, username)


def connection_settings(conn, spec=None) -> dict:
    """The connection's non-secret values over its spec's defaults (a setting added later reads its default)."""
    spec = spec or (find_spec(conn.connector) or (None, ConnectionSpec()))[1]
    return {**spec.defaults(), **(conn.settings or {})}


@contextmanager
def locked_connection(connection_id):
    """Hold the connection's row until the block ends: commit the session on success, roll back on error.

    PostgreSQL: SELECT … FOR UPDATE (waiting, never skipping), so a second run of the same company
    waits and then reads what the first committed, e.g. the rotated refresh token. SQLite: the
    session's write lock serialises writers. The commit covers everything pending in the session,
    so enter it between batches, not in the middle of one.
    """
    query = (select(Connection).where(Connection.id == connection_id).with_for_update()
             .execution_options(populate_existing=True))
    try:
        conn = db.session.scalars(query).first()
        if conn is None:
            raise LookupError(f"No connection with id {connection_id}")
        yield conn
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def reencrypt_all():
    """Re-encrypt every connection's secrets with the first CONNECTIONS_KEY key; return how many (caller commits)."""
    rows = db.session.scalars(select(Connection).where(Connection.secrets != "").with_for_update()).all()
    for conn in rows:
        conn.secrets = rotate_token(conn.secrets)
    log.info("connections re-encrypted count=%s", len(rows))
    return len(rows)


def _store_secrets(conn, values):
    conn.secrets = encrypt_json(values) if values else ""


def _touch(conn, username):
    conn.version = (conn.version or 0) + 1
    conn.updated_at = utcnow()
    if username:
        conn.updated_by = username[:64]


# --- form parsing ---------------------------------------------------------------------

def parse_form(spec, form, stored):
    """Read a submitted form into (plain values, secret changes, errors); None means "remove"."""
    values, changes, errors = {}, {}, {}
    for field in spec.plain_fields:
        try:
            values[field.name] = _coerce(field, form)
        except ValueError as exc:
            errors[field.name] = str(exc)
            continue
        if field.required and values[field.name] in (None, ""):
            errors[field.name] = f"{field.label} is required."
    for field in spec.secret_fields:
        raw = (form.get(field.name) or "").strip()  # a pasted key's trailing newline is never meant
        if len(raw) > MAX_VALUE_LENGTH:
            errors[field.name] = f"{field.label} is longer than {MAX_VALUE_LENGTH:,} characters."
        elif raw:  # a new value wins over a ticked "clear"
            changes[field.name] = raw
        elif form.get(f"{field.name}__clear"):
            changes[field.name] = None
        if field.required and not changes.get(field.name, stored.get(field.name)) and field.name not in errors:
            errors[field.name] = f"{field.label} is required." + (" It cannot be cleared." if stored.get(field.name) else "")
    return values, changes, errors


def _coerce(field, form):
    if field.type == "bool":
        return form.get(field.name, "") not in ("", "0", "off", "false")
    raw = (form.get(field.name) or "").strip()
    if not raw:
        return None
    if len(raw) > MAX_VALUE_LENGTH:
        raise ValueError(f"{field.label} is longer than {MAX_VALUE_LENGTH:,} characters.")
    value = _CONVERT[field.type](field, raw)
    if field.choices and value not in field.choices:
        raise ValueError(f"{field.label} must be one of {', '.join(map(str, field.choices))}.")
    return value


def _number(kind, word):
    def convert(field, raw):
        try:
            return kind(raw)
        except ValueError:
            raise ValueError(f"{field.label} must be {word}, not {raw[:40]!r}.") from None
    return convert


def _url(field, raw):
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{field.label} must be an http:// or https:// URL.")
    return raw


_CONVERT = {"str": lambda field, raw: raw, "url": _url, "int": _number(int, "a whole number"),
            "float": _number(float, "a number")}


def _identity(connector, spec, form, conn=None):
    """(key, display name, errors) from the form; a single-connection connector's key is fixed."""
    errors = {}
    key = conn.key if conn else ((form.get("key") or "").strip().lower() if spec.multiple else DEFAULT_KEY)
    if not conn and not _valid_key(key):
        errors["key"] = (f"{spec.key_label} must be 1–64 lower-case letters, digits, '-', '_' or '.', "
                         "starting with a letter or digit.")
    display_name = (form.get("display_name") or "").strip() or (key if spec.multiple else connector.title)
    if len(display_name) > 200:
        errors["display_name"] = "Display name is longer than 200 characters."
    return key, display_name, errors


def _valid_key(key):
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
    return 0 < len(key) <= 64 and key[0].isalnum() and set(key) <= allowed


def _changes_text(spec, conn, display_name, values, changes, stored):
    """What an edit changes, for the activity log: plain values shown, secrets named only."""
    parts = [f"display_name: {conn.display_name!r} → {display_name!r}"] if display_name != conn.display_name else []
    before = conn.settings or {}
    for field in spec.plain_fields:
        if values.get(field.name) != before.get(field.name):
            parts.append(f"{field.name}: {before.get(field.name)!r} → {values.get(field.name)!r}"[:300])
    for name, value in changes.items():
        if value is None and name in stored:
            parts.append(f"{name}: cleared")
        elif value is not None and stored.get(name) != value:
            parts.append(f"{name}: {'replaced' if name in stored else 'set'}")
    return parts


# --- pages ----------------------------------------------------------------------------

@bp.errorhandler(SecretsError)
def _secrets_error(exc):
    # A bad CONNECTIONS_KEY is the operator's to fix: say so (the message never holds a secret).
    log.error("connections error=%s", exc)
    return error_response(500, str(exc))


def _spec_or_404(connector_id):
    found = find_spec(connector_id)
    if found is None:
        abort(404, f"No enabled connector {connector_id!r} has connections.")
    return found


def _connection_or_404(connector_id, key, lock=False):
    query = select(Connection).where(Connection.connector == connector_id, Connection.key == key)
    conn = db.session.scalars(query.with_for_update() if lock else query).first()
    if conn is None:
        abort(404, f"No connection {connector_id}/{key}.")
    return conn


def _require_edit():
    if not current_user.can("edit_connections"):
        abort(403, "You need the 'edit_connections' permission to do this.")


def _secret_state(conn):
    """({secret name: value}, error message or None): what is stored, or why it cannot be read."""
    if conn is None:
        return {}, None
    try:
        return read_secrets(conn), None
    except SecretsError as exc:
        return {}, str(exc)


@bp.get("/")
def index():
    """Every connector that declares connections, with its connections (search by key or name, active filter)."""
    q, state = text_arg("q"), choice_arg("active", ("active", "inactive"))
    groups = []
    for connector, spec in connection_connectors():
        query = select(Connection).where(Connection.connector == connector.id)
        if q:
            query = query.where(or_(func.lower(Connection.key).contains(q.lower(), autoescape=True),
                                    func.lower(Connection.display_name).contains(q.lower(), autoescape=True)))
        if state:
            query = query.where(Connection.active.is_(state == "active"))
        rows = db.session.scalars(query.order_by(func.lower(Connection.display_name), Connection.key)).all()
        groups.append((connector, spec, [(row, *_secret_state(row)) for row in rows]))
    return render_template("connections/index.html", groups=groups, q=q or "", state=state or "")


@bp.route("/<connector_id>/new", methods=("GET", "POST"))
def new(connector_id):
    """The form for a new connection (POST: create it, or 400 with the form's errors and nothing written)."""
    if request.method == "POST":
        _require_edit()  # refused before anything is looked up, like every POST route
    connector, spec = _spec_or_404(connector_id)
    if not spec.multiple and _find(connector_id, DEFAULT_KEY):
        return redirect(url_for("connections.edit", connector_id=connector_id, key=DEFAULT_KEY))
    if request.method == "GET":
        return _form_page(connector, spec, None, values=spec.defaults())
    key, display_name, errors = _identity(connector, spec, request.form)
    values, changes, field_errors = parse_form(spec, request.form, {})
    errors.update(field_errors)
    if "key" not in errors and _find(connector_id, key):
        errors["key"] = f"A connection {key!r} already exists for {connector.title}."
    if errors:
        return _form_page(connector, spec, None, values, errors, key=key, display_name=display_name, status=400)
    return _create(connector, spec, key, display_name, values, changes)


def _find(connector_id, key):
    return db.session.scalar(select(Connection.id).where(Connection.connector == connector_id, Connection.key == key))


def _create(connector, spec, key, display_name, values, changes):
    conn = Connection(connector=connector.id, key=key, display_name=display_name, active=True, version=1,
                      settings={k: v for k, v in values.items() if v is not None},
                      updated_by=current_user.username)
    _store_secrets(conn, {k: v for k, v in changes.items() if v is not None})
    db.session.add(conn)
    named = [f.name for f in spec.plain_fields if values.get(f.name) is not None] + sorted(changes)
    activity.record("connection_created", target=conn.label, detail=f"fields: {', '.join(named) or 'none'}")
    try:
        db.session.commit()
    except IntegrityError:  # created by someone else between the check and the commit
        db.session.rollback()
        errors = {"key": f"A connection {key!r} already exists for {connector.title}."}
        return _form_page(connector, spec, None, values, errors, key=key, display_name=display_name, status=400)
    log.info("connection=%s created by=%s", conn.label, current_user.username)
    flash(f"Connection {display_name} created.", "success")
    return redirect(url_for("connections.index"))


@bp.route("/<connector_id>/<key>/edit", methods=("GET", "POST"))
def edit(connector_id, key):
    """A connection's form (POST: save what changed; a blank secret keeps the stored one)."""
    if request.method == "POST":
        _require_edit()
    connector, spec = _spec_or_404(connector_id)
    if request.method == "GET":
        conn = _connection_or_404(connector_id, key)
        return _form_page(connector, spec, conn, connection_settings(conn, spec))
    conn = _connection_or_404(connector_id, key, lock=True)  # a token rotating meanwhile is merged, not lost
    stored, unreadable = _secret_state(conn)
    _, display_name, errors = _identity(connector, spec, request.form, conn)
    values, changes, field_errors = parse_form(spec, request.form, stored)
    errors.update(field_errors)
    if errors:
        db.session.rollback()
        return _form_page(connector, spec, conn, values, errors, display_name=display_name, status=400)
    return _update(spec, conn, display_name, values, changes, stored, unreadable)


def _update(spec, conn, display_name, values, changes, stored, unreadable):
    changed = _changes_text(spec, conn, display_name, values, changes, stored)
    if not changed and not unreadable:
        db.session.rollback()
        flash(f"Nothing changed in {conn.display_name}.", "info")
        return redirect(url_for("connections.index"))
    conn.display_name = display_name
    conn.settings = {k: v for k, v in {**(conn.settings or {}), **values}.items() if v is not None}
    # Unreadable secrets (the key was lost) are replaced by what was entered now.
    merged = {**stored, **changes}
    _store_secrets(conn, {k: v for k, v in merged.items() if v is not None})
    _touch(conn, current_user.username)
    activity.record("connection_updated", target=conn.label,
                    detail="; ".join(changed or ["secrets re-entered after they could not be decrypted"]))
    db.session.commit()
    log.info("connection=%s updated by=%s version=%s", conn.label, current_user.username, conn.version)
    flash(f"Connection {conn.display_name} saved.", "success")
    return redirect(url_for("connections.index"))


@bp.post("/<connector_id>/<key>/toggle")
@permission_required("edit_connections")
def toggle(connector_id, key):
    """Activate or deactivate a connection (an inactive one is skipped by all-company runs)."""
    _spec_or_404(connector_id)
    conn = _connection_or_404(connector_id, key, lock=True)
    conn.active = not conn.active
    _touch(conn, current_user.username)
    state = "activated" if conn.active else "deactivated"
    activity.record("connection_toggled", target=conn.label, detail=state)
    db.session.commit()
    flash(f"Connection {conn.display_name} {state}.", "success")
    return redirect(url_for("connections.index"))


def _form_page(connector, spec, conn, values, errors=None, key=None, display_name=None, status=200):
    stored, unreadable = _secret_state(conn)
    return render_template(
        "connections/edit.html", connector=connector, spec=spec, conn=conn, values=values or {},
        errors=errors or {}, secret_set={f.name: bool(stored.get(f.name)) for f in spec.secret_fields},
        unreadable=unreadable, key=key if conn is None else conn.key,
        display_name=display_name if display_name is not None else (conn.display_name if conn else ""),
    ), status
