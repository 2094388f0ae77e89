"""Error pages for people, JSON errors for JSON endpoints."""
from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


def wants_json():
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status, message):
    if wants_json():
        return jsonify(error=message, status=status), status
    return render_template("error.html", status=status, message=message), status


def init_app(app):
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return error_response(400, f"The form is missing its security token or it expired ({exc.description}). Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc):
        return error_response(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Something went wrong on the server; the error was logged.")
