"""The Records page every push connector gets: ledger rows by stream and status, retry/ignore, CSV."""
from flask import Blueprint

bp = Blueprint("records", __name__, url_prefix="/records")
