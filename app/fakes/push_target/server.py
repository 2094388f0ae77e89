"""The fake push target's routes: create/update/find things, plus /__fake/ faults and truth."""
import itertools
import socket
import threading

from flask import Flask, jsonify, request


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.things, self.ids = {}, itertools.count(1)
        self.faults, self.writes, self.requests = {}, 0, {"create": 0, "update": 0, "find": 0}


def create_fake_app():
    app, st = Flask(__name__), State()

    def fault_for(key):
        """(status, message) when a fault applies to this write, else None."""
        st.writes += 1
        if key in st.faults.get("reject_keys", []):
            return 422, f"Validation failed: {key} has no mobile number"
        fail_from = st.faults.get("fail_from")
        if fail_from and st.writes >= fail_from:
            return 500, "Internal server error"
        return None

    @app.post("/things")
    def create():
        body = request.get_json(force=True)
        with st.lock:
            st.requests["create"] += 1
            fault = fault_for(body["key"])
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
            fault = fault_for(body["key"])
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

    return app
