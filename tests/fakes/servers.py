"""Start the fake sources as real subprocesses, as the demo does (app/fakes/launch.py), and stop them after."""
import requests

from app.connectors import load
from app.fakes.launch import running


def fake_uisp(clients, app_key, *extra):
    """Run the UISP connector's fake on a free port; a context manager yielding its root URL."""
    return running(load("uisp").fake, "--clients", clients, "--app-key", app_key, *extra)


class FakeControls:
    """The fake UISP's /__fake/ test controls, over HTTP."""

    def __init__(self, root, app_key):
        self.root = root
        self.base_url = root + "/crm/api/v1.0"
        self.app_key = app_key

    def post(self, path, body=None):
        response = requests.post(self.root + "/__fake/" + path.lstrip("/"), json=body or {}, timeout=30)
        response.raise_for_status()
        return response.json()

    def reset(self):
        return self.post("reset")

    def faults(self, **faults):
        return self.post("faults", faults)

    def stats(self):
        return requests.get(self.root + "/__fake/stats", timeout=30).json()

    def get(self, path, **params):
        response = requests.get(self.base_url + path, params=params, headers={"X-Auth-App-Key": self.app_key},
                                timeout=30)
        response.raise_for_status()
        return response.json()
