"""Connections: credentials and per-company settings edited in the UI, stored encrypted."""
from flask import Blueprint

bp = Blueprint("connections", __name__, url_prefix="/connections")
