"""The declaration every connector package exposes: what it adds to the app, stated as facts."""
import os
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Optional


class NavItem(NamedTuple):
    """A navbar link: its label and the endpoint it opens."""

    label: str
    endpoint: str


@dataclass(frozen=True)
class SettingSpec:
    """A setting editable on the Settings page: default, validator (raises SettingError) and label."""

    key: str
    default: object
    validator: Callable
    label: str
    help: str = ""


@dataclass(frozen=True)
class ConfigKey:
    """An environment variable the connector reads, with its default, type and `.env.example` comment."""

    name: str
    default: object = ""
    help: str = ""
    type: type = str

    def read(self, environ=os.environ):
        """The value from the environment, converted to the key's type (the default when unset)."""
        raw = environ.get(self.name)
        if raw is None or raw == "":
            return self.default
        if self.type is bool:
            return raw.strip().lower() in ("1", "true", "yes", "on")
        return self.type(raw)

    def env_lines(self):
        """The lines this key contributes to `.env.example`."""
        shown = ("1" if self.default else "0") if self.type is bool else self.default
        return [f"# {line}" for line in self.help.splitlines()] + [f"{self.name}={shown}"]


@dataclass(frozen=True)
class FakeSource:
    """How the demo and the tests start this connector's fake source (a separate process, never imported).

    `server`: `python` arguments of a server that prints "listening on http://HOST:PORT" as its
    first line (the starter adds --host and --port; port 0 picks a free one), or () for none.
    `prepare(instance_dir)`: `python` arguments of a one-off set-up step (seeding a database), or
    None when there is nothing to do. `env(url, instance_dir)`: the config that points the app at
    the fake (url is the server's root URL, or None without a server).
    """

    server: tuple = ()
    env: Callable = lambda url, instance_dir: {}
    prepare: Optional[Callable] = None
    # Extra server arguments the demo uses (the tests pass their own).
    demo_args: tuple = ()


@dataclass(frozen=True)
class Connector:
    """One source: its pages, settings, permissions, audit actions, config, demo set-up and fake."""

    id: str
    title: str
    blueprints: tuple = ()
    nav: tuple = ()
    settings: tuple = ()
    # name -> what it allows, shown on the Roles page
    permissions: dict = field(default_factory=dict)
    activity_actions: tuple = ()
    config: tuple = ()
    demo_setup: Optional[Callable] = None
    fake: Optional[FakeSource] = None
    # Credentials and per-company settings editable in the UI (see base/connections.py), if any.
    connection: object = None
    # The push streams it sends (base/push.py PushStream): their ledger shows on the Records page.
    streams: tuple = ()
    description: str = ""

    def env_example(self):
        """This connector's block of `.env.example`."""
        lines = [f"# --- {self.title} ---"]
        for key in self.config:
            lines += key.env_lines()
        return "\n".join(lines) + "\n"
