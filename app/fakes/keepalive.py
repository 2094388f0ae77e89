"""Serve a fake's WSGI app with keep-alive connections: one gunicorn gthread worker (the fake's state
lives in one process), threads for concurrent slow requests.

Werkzeug's server closes every connection after its response, so each request costs a new TCP
connection on both sides; at a thousand requests a second that, not the fake's logic, becomes the
limit a benchmark measures. The socket is bound here first so that port 0 can be reported.
"""
import socket

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, app, options):
        self.application, self.options = app, options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def serve_forever(app, host, port, threads=64):
    """Print "listening on http://HOST:PORT" (the real port when 0 was asked), then serve until killed."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(1024)
    listener.set_inheritable(True)
    print(f"listening on http://{host}:{listener.getsockname()[1]}", flush=True)
    _Gunicorn(app, {"bind": f"fd://{listener.fileno()}", "workers": 1, "worker_class": "gthread",
                    "threads": threads, "keepalive": 30, "loglevel": "warning", "accesslog": None,
                    "graceful_timeout": 1}).run()
