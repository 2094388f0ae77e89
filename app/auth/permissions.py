"""Permission checks for views and templates."""
from functools import wraps

from flask import abort
from flask_login import current_user

from .models import PERMISSIONS


def permission_required(permission):
    """Answer 403 unless the signed-in user's roles grant permission."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated or not current_user.can(permission):
                abort(403, f"You need the '{permission}' permission to do this.")
            return view(*args, **kwargs)
        wrapped.required_permission = permission
        return wrapped
    return decorator
