"""Login, logout and password change."""
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, or_, select

from ..db import utcnow
from ..extensions import db
from . import activity
from .forms import ChangePasswordForm, LoginForm
from .models import Activity, User

bp = Blueprint("auth", __name__)


def safe_next(target):
    """Only local paths are followed after login (no scheme, no host, no '//')."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def recent_failures(username, ip):
    window = utcnow() - timedelta(seconds=current_app.config["LOGIN_FAILURE_WINDOW"])
    return db.session.scalar(
        select(func.count(Activity.id)).where(
            Activity.action == "login_failed", Activity.at >= window,
            or_(Activity.username == username, Activity.ip == ip))
    )


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.overview"))
    form = LoginForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("auth/login.html", form=form), status
    username, ip = form.username.data.strip(), request.remote_addr or ""
    if recent_failures(username, ip) >= current_app.config["LOGIN_MAX_FAILURES"]:
        activity.record("login_throttled", target=username, username=username)
        db.session.commit()
        flash("Too many failed logins. Wait a few minutes and try again.", "danger")
        return render_template("auth/login.html", form=form), 429
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.check_password(form.password.data) or not user.active:
        activity.record("login_failed", target=username, username=username)
        db.session.commit()
        flash("Invalid username or password.", "danger")
        return render_template("auth/login.html", form=form), 401
    return _complete_login(user, form.remember.data)


def _complete_login(user, remember):
    login_user(user, remember=remember)  # its user_logged_in signal may queue the refresh (app/runs/refresh.py)
    user.last_login_at = utcnow()
    activity.record("login", target=user.username, user=user)
    db.session.commit()
    if user.must_change_password:
        return redirect(url_for("auth.change_password"))
    return redirect(safe_next(request.args.get("next")) or url_for("dashboard.overview"))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    activity.record("logout", target=current_user.username)
    db.session.commit()
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.current_password.data):
            form.current_password.errors.append("Current password is wrong.")
        else:
            current_user.set_password(form.new_password.data)
            current_user.must_change_password = False
            activity.record("password_changed", target=current_user.username)
            db.session.commit()
            flash("Password changed.", "success")
            return redirect(url_for("dashboard.overview"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/change_password.html", form=form), status
