"""Start the enabled connectors' fake sources as separate processes, for the demo and the tests.

`python -m app.fakes.launch --env-file instance/demo.env` prepares and starts every enabled
connector's fake (Connector.fake), writes the config that points the app at them as `export`
lines, prints "ready" and keeps them running until it is stopped.
"""
import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from app.connectors import ENABLED_CONNECTORS, load

ROOT = Path(__file__).resolve().parents[2]
LISTENING = "listening on "


class FakeStartError(RuntimeError):
    """A fake did not start; the message carries the end of its stderr."""


def start(fake, *extra, host="127.0.0.1", port=0, stderr=None):
    """Start the fake's server; return (process, root URL) once it prints that it listens."""
    args = [sys.executable, *fake.server, *map(str, extra), "--host", host, "--port", str(port)]
    # stderr goes to a file: a pipe nobody reads would block the server once it filled.
    errors = stderr or tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True)
    line = proc.stdout.readline()
    if not line.startswith(LISTENING):
        proc.kill()
        errors.seek(0)
        raise FakeStartError(f"{' '.join(fake.server)} did not start: {line!r} {errors.read()[-2000:]}")
    return proc, line[len(LISTENING):].strip()


@contextmanager
def running(fake, *extra):
    """The fake's server running on a free port for the duration; yields its root URL."""
    proc, url = start(fake, *extra)
    try:
        yield url
    finally:
        proc.kill()
        proc.wait(timeout=10)


def prepare(fake, instance_dir):
    """Run the fake's one-off set-up step (seeding its database), when it has one to do."""
    args = fake.prepare(instance_dir) if fake.prepare else None
    if args:
        # Its report goes to stderr: stdout carries only "ready" to whoever waits for it.
        subprocess.run([sys.executable, *args], cwd=ROOT, check=True, stdout=sys.stderr)


def demo(instance_dir, names=None):
    """Prepare and start every enabled connector's fake; return (processes, config for the app)."""
    procs, env = [], {}
    for name in names or ENABLED_CONNECTORS:
        fake = load(name).fake
        if fake is None:
            continue
        prepare(fake, instance_dir)
        url = None
        if fake.server:
            log = open(Path(instance_dir) / f"fake-{name}.log", "w")
            proc, url = start(fake, *fake.demo_args, stderr=log)
            procs.append(proc)
            print(f"fake {name}: {url}", file=sys.stderr, flush=True)
        env.update(fake.env(url, instance_dir))
    return procs, env


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m app.fakes.launch", description=__doc__.splitlines()[0])
    parser.add_argument("--instance", default=str(ROOT / "instance"))
    parser.add_argument("--env-file", required=True, help="where the app's config lines are written")
    args = parser.parse_args(argv)
    Path(args.instance).mkdir(parents=True, exist_ok=True)
    procs, env = demo(args.instance, [n for n in os.environ.get("ENABLED_CONNECTORS", "").split(",") if n] or None)
    Path(args.env_file).write_text("".join(f"export {k}={shlex.quote(str(v))}\n" for k, v in env.items()))
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        for proc in procs:
            proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
