"""What the fakes' /_fake/ control routes share: a JSON object body, and counts within it."""
from flask import request
from werkzeug.exceptions import BadRequest


def json_body():
    """The request's JSON object ({} for an empty body); 400 for anything else."""
    body = request.get_json(force=True, silent=True)
    body = {} if body is None and not request.get_data() else body
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    return body


def is_count(value):
    """Absent, or a non-negative number (not a bool)."""
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0)
