"""The runs engine: jobs, schedules, runs, locks, logs; its pages, API and CLI."""


def init_app(app):
    from . import api, cli, routes, system_jobs  # noqa: F401  (system_jobs registers @job functions)
    app.register_blueprint(routes.bp)
    app.register_blueprint(api.bp)
    cli.init_app(app)
