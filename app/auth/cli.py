"""`flask users create|reset-password`."""
import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db
from . import activity
from .models import Role, User
from .roles import ensure_default_roles


def init_app(app):
    app.cli.add_command(users)


users = AppGroup("users", help="Manage users.")


@users.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--admin", is_flag=True, help="Give the admin role (every permission).")
@click.option("--role", "role_names", multiple=True, help="Role to grant (repeatable).")
@click.option("--must-change-password", is_flag=True)
def create_user(username, password, admin, role_names, must_change_password):
    """Create a user."""
    ensure_default_roles()
    if len(password) < 8:
        raise click.ClickException("Password must have at least 8 characters")
    if db.session.scalar(select(User).where(User.username == username)):
        raise click.ClickException(f"User {username!r} already exists")
    names = set(role_names) | ({"admin"} if admin else set())
    roles = db.session.scalars(select(Role).where(Role.name.in_(names))).all()
    missing = names - {r.name for r in roles}
    if missing:
        raise click.ClickException(f"Unknown role(s): {', '.join(sorted(missing))}")
    user = User(username=username, roles=list(roles), must_change_password=must_change_password)
    user.set_password(password)
    db.session.add(user)
    activity.record("user_created", target=username, detail=f"roles={sorted(names)} (cli)", username="cli")
    db.session.commit()
    click.echo(f"Created user {username} (roles: {', '.join(sorted(names)) or 'none'})")


@users.command("reset-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def reset_password(username, password):
    """Set a user's password and make them change it at next login."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"No user {username!r}")
    if len(password) < 8:
        raise click.ClickException("Password must have at least 8 characters")
    user.set_password(password)
    user.must_change_password = True
    activity.record("password_reset", target=username, detail="(cli)", username="cli")
    db.session.commit()
    click.echo(f"Password reset for {username}")
