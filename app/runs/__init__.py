"""The runs engine: jobs, schedules, runs, locks, logs; its pages, API and CLI."""


from . import api, cli, fragments, routes, system_jobs  # noqa: F401  (system_jobs registers @job functions)


def init_app(app):
    app.register_blueprint(routes.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(fragments.bp)
    cli.init_app(app)
