"""The fake EPOS Now and the fake QuickBooks Online on one port, for the EPOS -> QBO demo and benchmark.

A werkzeug DispatcherMiddleware mounts the EPOS app at /epos and the QBO app at /qbo, so EPOS's base URL
is URL/epos, QBO's token endpoint URL/qbo/oauth2/v1/tokens/bearer and its API URL/qbo/v3/company/...; each
keeps its own state, lock and /_fake/ controls (URL/epos/_fake/..., URL/qbo/_fake/...). Company coNN's
books are realm 91300000000000NN. GET URL/ lists the mounts.
"""
from flask import Flask, jsonify
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from ..epos.server import create_fake_app as create_epos_app
from ..qbo.server import create_fake_app as create_qbo_app


def create_fake_app(companies=3, epos=None, qbo=None):
    """The combined WSGI app: `companies` EPOS companies and as many realms; epos and qbo are the two
    apps' other keyword arguments."""
    root = Flask(__name__)

    @root.get("/")
    def index():
        return jsonify(epos="/epos", qbo="/qbo", companies=companies)

    @root.errorhandler(404)
    def not_found(exc):
        return jsonify(message="Not here: the fakes are under /epos and /qbo"), 404

    return DispatcherMiddleware(root, {
        "/epos": create_epos_app(companies=companies, **(epos or {})),
        "/qbo": create_qbo_app(realms=companies, **(qbo or {})),
    })
