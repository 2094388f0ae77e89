"""Real receivers for notifications: a local SMTP server and a local webhook endpoint."""
import json
import socket
import threading
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

SMTP_USER, SMTP_PASSWORD = "mailer", "s3cret-smtp-pa55"


def free_port():
    """A port nothing listens on right now (also how tests get an unreachable address)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CollectingHandler:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "data": envelope.content.decode("utf-8", "replace"),
                              "authenticated": bool(session.authenticated),
                "login": getattr(session.auth_data, "login", None)})
        return "250 Message accepted for delivery"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on 127.0.0.1 (AUTH allowed without TLS) that the app sends to."""
    handler = CollectingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(),
                            authenticator=_authenticator, auth_require_tls=False)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, NOTIFY_TIMEOUT_SECONDS=5)
    yield handler
    controller.stop()


class _WebhookHandler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.bodies.append(json.loads(body))
        if self.server.gate is not None:  # a slow receiver: answer only once the test opens the gate
            self.server.gate.wait(30)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_server():
    """A real HTTP endpoint collecting the JSON bodies posted to it; .url is where to post."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WebhookHandler)
    server.daemon_threads = True
    server.bodies, server.gate = [], None
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T0/B0/secret-hook-token"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    if server.gate is not None:
        server.gate.set()
    server.shutdown()
    server.server_close()


class FormReader(HTMLParser):
    """Collect what a browser would submit from one form: enabled fields with their values."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id, self.inside, self.disabled = form_id, False, False
        self.fields, self.select = [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        elif self.inside and tag == "fieldset" and "disabled" in a:
            self.disabled = True
        elif self.inside and not self.disabled and tag == "input" and a.get("name") and "disabled" not in a:
            kind = a.get("type", "text")
            if kind not in ("checkbox", "radio") or "checked" in a:
                self.fields.append((a["name"], a.get("value", "on" if kind in ("checkbox", "radio") else "")))
        elif self.inside and not self.disabled and tag == "select":
            self.select = a.get("name")
        elif self.select and tag == "option" and "selected" in a:
            self.fields.append((self.select, a.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "fieldset":
            self.disabled = False
        elif tag == "select":
            self.select = None


def read_form(html, form_id):
    """The fields of form_id as a browser would post them: {name: value or [values]}."""
    reader = FormReader(form_id)
    reader.feed(html)
    fields = {}
    for name, value in reader.fields:
        if name in fields:
            previous = fields[name]
            fields[name] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            fields[name] = value
    return fields


@pytest.fixture(autouse=True)
def _core_jobs_only(core_jobs_only):
    """Settings, freshness and notifications are tested with the test jobs only."""
