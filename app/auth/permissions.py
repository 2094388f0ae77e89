"""Permission checks for views and templates."""
from functools import wraps

from flask import abort, current_app
from flask_login import current_user

from .models import PERMISSIONS


def all_permissions():
    """{name: what it allows}: the core's permissions and the enabled connectors'."""
    return current_app.extensions.get("syncdeck_permissions", PERMISSIONS)


def check_views(app):
    """Fail at start-up, not at the first request, when a view requires a permission nobody declared."""
    known = app.extensions.get("syncdeck_permissions", PERMISSIONS)
    for endpoint, view in app.view_functions.items():
        required = getattr(view, "required_permission", None)
        if required is not None and required not in known:
            raise ValueError(f"{endpoint} requires unknown permission {required!r}; declare it in its Connector")


def permission_required(permission):
    """Answer 403 unless the signed-in user's roles grant permission (checked to exist by check_views)."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated or not current_user.can(permission):
                abort(403, f"You need the '{permission}' permission to do this.")
            return view(*args, **kwargs)
        wrapped.required_permission = permission
        return wrapped
    return decorator
