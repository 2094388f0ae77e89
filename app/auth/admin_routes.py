"""Users, roles and the activity log (with its streamed CSV export)."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from wtforms import SelectChoice

from .. import settings
from ..settings import localtime
from ..db import utcnow
from ..exports import csv_response
from ..extensions import db
from ..filters import choice_arg, date_arg, page_args, text_arg
from . import activity
from .activity import all_actions
from .forms import EditUserForm, ResetPasswordForm, RoleForm, UserForm
from .models import Activity, Role, User
from .permissions import all_permissions, permission_required

bp = Blueprint("admin", __name__)

CSV_COLUMNS = (Activity.at, Activity.username, Activity.action, Activity.target, Activity.detail, Activity.ip)


# --- users ------------------------------------------------------------------

def _all_roles():
    return db.session.scalars(select(Role).order_by(Role.name)).all()


def _with_role_choices(form):
    form.roles.choices = [SelectChoice(role.id, role.name) for role in _all_roles()]
    return form


def _role_names(roles):
    return ", ".join(sorted(role.name for role in roles)) or "none"


def _user_or_404(user_id):
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, f"No user {user_id}")
    return user


def _users_page(form=None, status=200, error=None):
    users = db.session.scalars(select(User).order_by(func.lower(User.username))).all()
    if form is None:
        form = _with_role_choices(UserForm(formdata=None))
    return render_template("admin/users.html", users=users, form=form, error=error), status


def _user_page(user, edit_form=None, reset_form=None, status=200, error=None):
    if edit_form is None:
        edit_form = _with_role_choices(EditUserForm(formdata=None, roles=[r.id for r in user.roles]))
    recent = db.session.scalars(select(Activity).where(Activity.username == user.username)
                                .order_by(Activity.at.desc(), Activity.id.desc()).limit(20)).all()
    return render_template("admin/user.html", user=user, edit_form=edit_form, recent=recent, error=error,
                           reset_form=ResetPasswordForm(formdata=None) if reset_form is None else reset_form), status


def _require_admin_to_change_admin_role(before, after):
    """manage_users alone must not be a path to admin: only admins grant or remove the admin role."""
    had, has = ("admin" in {r.name for r in roles} for roles in (before, after))
    if had != has and not current_user.is_admin:
        abort(403, "Only an admin can grant or remove the admin role.")


def _is_last_active_admin(user):
    """True when user is the only active admin; the admin rows stay locked until commit (PostgreSQL)."""
    query = (select(User.id).join(User.roles).where(Role.name == "admin", User.active.is_(True))
             .with_for_update(of=User))
    return set(db.session.scalars(query)) == {user.id}


@bp.get("/users")
def users():
    """List every user; holders of manage_users also get the controls."""
    return _users_page()


@bp.post("/users")
@permission_required("manage_users")
def create_user():
    """Create a user and record it, or answer 400 with the form's errors and write nothing."""
    form = _with_role_choices(UserForm())
    if not form.validate_on_submit():
        return _users_page(form, 400, "The user was not created: correct the fields marked below.")
    username = form.username.data
    if db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        return _duplicate_username(form, username)
    roles = [role for role in _all_roles() if role.id in form.roles.data]
    _require_admin_to_change_admin_role([], roles)
    user = User(username=username, roles=roles, must_change_password=form.must_change_password.data)
    user.set_password(form.password.data)
    db.session.add(user)
    activity.record("user_created", target=username,
                    detail=f"roles: {_role_names(roles)}; must change password: {user.must_change_password}")
    try:
        db.session.commit()
    except IntegrityError:  # created by someone else between the check and the commit
        db.session.rollback()
        return _duplicate_username(_with_role_choices(UserForm()), username)
    flash(f"User {username} created.", "success")
    return redirect(url_for("admin.users"))


def _duplicate_username(form, username):
    form.username.errors = [*form.username.errors, f"A user named {username!r} already exists."]
    return _users_page(form, 400, f"The user was not created: a user named {username!r} already exists.")


@bp.get("/users/<int:user_id>")
def user_detail(user_id):
    """Show one user, their recent activity and (for manage_users) the edit forms."""
    return _user_page(_user_or_404(user_id))


@bp.post("/users/<int:user_id>")
@permission_required("manage_users")
def edit_user(user_id):
    """Replace a user's roles; the last active admin keeps the admin role."""
    user = _user_or_404(user_id)
    form = _with_role_choices(EditUserForm())
    if not form.validate_on_submit():
        return _user_page(user, edit_form=form, status=400, error="Roles not saved: correct the fields marked below.")
    roles = [role for role in _all_roles() if role.id in form.roles.data]
    _require_admin_to_change_admin_role(user.roles, roles)
    if "admin" not in {role.name for role in roles} and _is_last_active_admin(user):
        return _user_page(user, status=400, error=f"{user.username} is the last active admin and must keep "
                                                  "the admin role; make another user admin first.")
    before = _role_names(user.roles)
    if before == _role_names(roles):
        flash(f"Roles of {user.username} unchanged.", "info")
        return redirect(url_for("admin.user_detail", user_id=user.id))
    user.roles = roles
    activity.record("user_updated", target=user.username, detail=f"roles: {before} -> {_role_names(roles)}")
    db.session.commit()
    flash(f"Roles of {user.username} saved.", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/disable")
@permission_required("manage_users")
def disable_user(user_id):
    """Stop a user signing in; never oneself, never the last active admin."""
    user = _user_or_404(user_id)
    if user.id == current_user.id:
        return _user_page(user, status=400, error="You cannot disable your own account.")
    if _is_last_active_admin(user):
        return _user_page(user, status=400, error=f"{user.username} is the last active admin and cannot be "
                                                  "disabled; make another user admin first.")
    return _set_active(user, False)


@bp.post("/users/<int:user_id>/enable")
@permission_required("manage_users")
def enable_user(user_id):
    """Let a disabled user sign in again."""
    return _set_active(_user_or_404(user_id), True)


def _set_active(user, active):
    word = "enabled" if active else "disabled"
    if user.active == active:
        flash(f"{user.username} is already {word}.", "info")
    else:
        user.active = active
        activity.record(f"user_{word}", target=user.username)
        db.session.commit()
        flash(f"{user.username} {word}.", "success")
    if request.form.get("back") == "detail":
        return redirect(url_for("admin.user_detail", user_id=user.id))
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/reset-password")
@permission_required("manage_users")
def reset_password(user_id):
    """Set a new password that the user must change at the next sign-in."""
    user = _user_or_404(user_id)
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        return _user_page(user, reset_form=form, status=400,
                          error="Password not reset: correct the field marked below.")
    user.set_password(form.password.data)
    user.must_change_password = True
    activity.record("password_reset", target=user.username)
    db.session.commit()
    flash(f"Password of {user.username} reset; they must change it when they next sign in.", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


# --- roles ------------------------------------------------------------------

def _roles_page(status=200, error=None):
    return render_template("admin/roles.html", roles=_all_roles(), permissions=all_permissions(), error=error), status


@bp.get("/roles")
def roles():
    """List the roles and what each permission allows."""
    return _roles_page()


@bp.post("/roles/<int:role_id>")
@permission_required("manage_users")
def edit_role(role_id):
    """Replace a role's permissions (not the admin role's, which grants them all)."""
    if not current_user.is_admin:
        abort(403, "Only an admin can change what a role allows.")
    role = db.session.get(Role, role_id)
    if role is None:
        abort(404, f"No role {role_id}")
    if role.name == "admin":
        return _roles_page(400, "The admin role grants every permission; its permissions cannot be edited.")
    form = RoleForm()
    if not form.validate_on_submit():
        unknown = sorted(set(request.form.getlist("permissions")) - set(all_permissions()))
        return _roles_page(400, f"Role {role.name} not saved: unknown permission(s) {', '.join(unknown)}."
                           if unknown else f"Role {role.name} not saved: {form.errors}")
    chosen = " ".join(p for p in all_permissions() if p in form.permissions.data)
    if chosen == role.permissions:
        flash(f"Role {role.name} unchanged.", "info")
        return redirect(url_for("admin.roles"))
    activity.record("role_updated", target=role.name,
                    detail=f"permissions: {role.permissions or 'none'} -> {chosen or 'none'}")
    role.permissions = chosen
    db.session.commit()
    flash(f"Role {role.name} saved.", "success")
    return redirect(url_for("admin.roles"))


# --- activity ---------------------------------------------------------------

def _activity_query():
    """The activity entries matching the query-string filters, newest first (400 on bad input)."""
    user, action, text = text_arg("user", 64), choice_arg("action", all_actions()), text_arg("q")
    start, end = date_arg("from"), date_arg("to", end_of_day=True)
    query = select(Activity).order_by(Activity.at.desc(), Activity.id.desc())
    if user:
        query = query.where(func.lower(Activity.username) == user.lower())
    if action:
        query = query.where(Activity.action == action)
    if text:
        query = query.where(or_(Activity.target.icontains(text, autoescape=True),
                                Activity.detail.icontains(text, autoescape=True)))
    if start:
        query = query.where(Activity.at >= start)
    if end:
        query = query.where(Activity.at < end)
    return query


@bp.get("/activity", endpoint="activity")
def activity_log():
    """Who did what and when, filtered and paginated, newest first."""
    page, per_page = page_args()
    pagination = db.paginate(_activity_query(), page=page, per_page=per_page, error_out=False)
    export_args = {k: v for k, v in request.args.items() if k not in ("page", "per_page")}
    return render_template("admin/activity.html", pagination=pagination, actions=all_actions(), export_args=export_args)


@bp.get("/activity.csv")
def activity_csv():
    """The filtered activity as a CSV attachment, streamed at constant memory."""
    header = [f"at ({settings.get('business_timezone')})", "user", "action", "target", "detail", "ip"]
    filename = f"activity-{localtime(utcnow(), '%Y-%m-%d')}.csv"
    return csv_response(_activity_query().with_only_columns(*CSV_COLUMNS), header, _activity_cells, filename)


def _activity_cells(row):
    at, username, action, target, detail, ip = row
    return [localtime(at), username, action, target, detail, ip]
