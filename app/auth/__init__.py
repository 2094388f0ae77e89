"""Login, users, roles and permissions, and the activity log."""
from flask import jsonify, redirect, request, url_for
from flask_login import current_user

from ..extensions import db, login_manager
from . import admin_routes, cli, routes
from .models import User

# Endpoints anyone may reach; everything else needs a session (see require_login).
PUBLIC_ENDPOINTS = {"auth.login", "static", "ops.healthz", "ops.metrics"}


def init_app(app):
    app.register_blueprint(routes.bp)
    app.register_blueprint(admin_routes.bp)
    cli.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id):
        return db.session.get(User, int(user_id))

    @login_manager.unauthorized_handler
    def unauthorized():
        return _unauthorized()

    app.before_request(require_login)


def require_login():
    """Every endpoint needs a login unless listed public; a flagged user must change the password first."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None and request.method == "OPTIONS":
        return None
    if not current_user.is_authenticated:
        return _unauthorized()
    if current_user.must_change_password and request.endpoint not in ("auth.change_password", "auth.logout"):
        if request.path.startswith("/api/"):
            return jsonify(error="Password change required", status=403), 403
        return redirect(url_for("auth.change_password"))
    return None


def _unauthorized():
    login = url_for("auth.login", next=request.full_path if request.query_string else request.path)
    if request.headers.get("HX-Request") == "true":  # a poll of an expired session: send the page to the login
        return "", 401, {"HX-Redirect": url_for("auth.login")}
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return jsonify(error="Login required", status=401), 401
    return redirect(login)
