"""`flask demo setup`: what `make run` needs on a fresh machine beyond the schema."""
import os

import click
from sqlalchemy import select

from .auth.models import Role, User
from .auth.roles import ensure_default_roles
from .connectors import enabled
from .extensions import db

DEMO_USER = "admin"
DEMO_PASSWORD = "syncdeck-demo"

def init_app(app):
    app.cli.add_command(demo)


@click.group(help="Demo helpers.")
def demo():
    pass


@demo.command("setup")
def setup():
    """Create the demo admin (if missing) and prepare every connector's demo source."""
    ensure_default_roles()
    if db.session.scalar(select(User).where(User.username == DEMO_USER)) is None:
        user = User(username=DEMO_USER, roles=list(db.session.scalars(select(Role).where(Role.name == "admin"))))
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
    db.session.commit()
    for connector in enabled():
        if connector.demo_setup is not None:
            connector.demo_setup()
    url = f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"  # make run's HOST/PORT
    click.echo(f"Demo admin: user {DEMO_USER!r}, password {DEMO_PASSWORD!r} — {url}")
