"""The declaration every connector package exposes: what it adds to the app, stated as facts."""
import os
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass(frozen=True)
class NavItem:
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
    """How the demo and the tests start this connector's fake source.

    `command(port)` gives the argv of a server that prints "listening on http://HOST:PORT" on its
    first stdout line (port 0: any free port); `prepare()` gives the argv of a one-off set-up step
    (seeding a database) run before, or None. `env(url)` gives the config that points the app at it.
    """

    command: Optional[Callable] = None
    env: Callable = lambda url: {}
    prepare: Optional[Callable] = None


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
    description: str = ""

    def env_example(self):
        """This connector's block of `.env.example`."""
        lines = [f"# --- {self.title} ---"]
        for key in self.config:
            lines += key.env_lines()
        return "\n".join(lines) + "\n"
