"""Start the fake sources as real subprocesses, as the demo does, and stop them after."""
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def fake_uisp(clients, app_key, *extra):
    """Run `python -m app.fakes.uisp` on a free port; yield its root URL (http://127.0.0.1:port)."""
    # stderr goes to a file: a pipe nobody reads would block the server once it filled.
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.fakes.uisp", "--port", "0", "--clients", str(clients), "--app-key", app_key,
             *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            line = proc.stdout.readline()
            if not line.startswith("listening on http://"):
                errors.seek(0)
                raise RuntimeError(f"fake UISP did not start: {line!r} {errors.read()[-2000:]}")
            yield line.split("listening on ", 1)[1].strip()
        finally:
            proc.kill()
            proc.wait(timeout=10)


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
