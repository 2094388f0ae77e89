"""UISP pages: customers, customer detail, suspensions."""
from flask import Blueprint

bp = Blueprint("uisp", __name__, url_prefix="/uisp", template_folder="templates")


@bp.route("/customers")
def customers():
    return "customers"


@bp.route("/suspensions")
def suspensions():
    return "suspensions"
