"""The Settings page."""
from flask import render_template

from . import settings
from .routes import bp


@bp.get("/settings")
def settings_page():
    return render_template("dashboard/settings.html", values=settings.get_many())
