"""Overview, settings, notifications, health and metrics, and the helpers every template uses."""


from . import ops, routes, settings_routes, template_helpers  # noqa: F401 — settings_routes adds to routes.bp


def init_app(app):
    app.register_blueprint(routes.bp)
    app.register_blueprint(ops.bp)
    template_helpers.init_app(app)
