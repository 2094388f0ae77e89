"""Users, roles and the activity log."""
from flask import Blueprint, render_template

bp = Blueprint("admin", __name__)


@bp.get("/users")
def users():
    return render_template("error.html", status=200, message="Users")


@bp.get("/activity")
def activity():
    return render_template("error.html", status=200, message="Activity")
