"""The fake push target: a REST collection of "things" (create, update, find by client key),
plus /__fake/ controls for faults and the truth of what was created.

Faults (POST /__fake/faults, JSON; each call replaces the last and restarts the write count):
- reject_keys: [key, ...]       a write of one of these keys answers 422 with a readable error;
- fail_from: k                  the k-th write (create or update) since, and every later one, answers 500;
- drop_after_create: [key, ...] the create is stored, then the connection is dropped unanswered.
"""
import itertools
import logging
import socket
import threading

from flask import Flask, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server


class NoDelayHandler(WSGIRequestHandler):
    """Keep-alive without the ~40 ms Nagle/delayed-ACK stall per request."""

    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet: the launcher's stderr is a file nobody reads
        pass


class State:
    """What the target holds, the faults in force, and how many requests of each kind it served."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.things, self.ids = {}, itertools.count(1)
        self.faults, self.writes, self.requests = {}, 0, {"create": 0, "update": 0, "find": 0}

    def fault_for(self, key):
        """(status, message) when a fault applies to this write, else None (call with the lock held)."""
        self.writes += 1
        if key in self.faults.get("reject_keys", []):
            return 422, f"Validation failed: {key} has no mobile number"
        fail_from = self.faults.get("fail_from")
        if fail_from and self.writes >= fail_from:
            return 500, "Internal server error"
        return None


def create_fake_app():
    """The fake target's Flask app, with a fresh state."""
    app, st = Flask(__name__), State()

    @app.post("/things")
    def create():
        body = request.get_json(force=True)
        with st.lock:
            st.requests["create"] += 1
            fault = st.fault_for(body["key"])
            if fault:
                return jsonify(error=fault[1]), fault[0]
            thing_id = next(st.ids)
            st.things[thing_id] = {"id": thing_id, "key": body["key"], "client_key": body.get("client_key"),
                                   "data": body.get("data")}
            drop = body["key"] in st.faults.get("drop_after_create", [])
        if drop:  # accepted, but the caller never hears so: an unknown outcome
            request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
        return jsonify(id=thing_id), 201

    @app.put("/things/<int:thing_id>")
    def replace(thing_id):
        body = request.get_json(force=True)
        with st.lock:
            st.requests["update"] += 1
            fault = st.fault_for(body["key"])
            if fault:
                return jsonify(error=fault[1]), fault[0]
            if thing_id not in st.things:
                return jsonify(error=f"No thing {thing_id}"), 404
            st.things[thing_id]["data"] = body.get("data")
        return jsonify(id=thing_id)

    @app.get("/things")
    def find():
        with st.lock:
            st.requests["find"] += 1
            key = request.args.get("client_key")
            return jsonify([t for t in st.things.values() if t["client_key"] == key])

    _add_controls(app, st)
    return app


def _add_controls(app, st):
    @app.post("/__fake/faults")
    def faults():
        with st.lock:
            st.faults, st.writes = request.get_json(force=True) or {}, 0
        return jsonify(ok=True)

    @app.post("/__fake/reset")
    def reset():
        with st.lock:
            st.reset()
        return jsonify(ok=True)

    @app.get("/__fake/truth")
    def truth():
        with st.lock:
            return jsonify(things=list(st.things.values()), requests=st.requests)


def serve(app, host, port):
    """A threaded server for app on host:port (0 = a free port)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return make_server(host, port, app, threaded=True, request_handler=NoDelayHandler)
