"""Overview, settings, notifications, health and metrics, and the helpers every template uses."""


def init_app(app):
    from . import ops, routes, settings_routes, template_helpers  # noqa: F401
    app.register_blueprint(routes.bp)
    app.register_blueprint(ops.bp)
    template_helpers.init_app(app)
