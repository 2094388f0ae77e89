"""Every enabled connector runs the conformance suite (tests/connectors/conformance.py)."""
import importlib

import pytest

from app.connectors import ENABLED_CONNECTORS
from tests.connectors.conformance import ConformanceSuite, PushConformanceSuite, SnapshotConformanceSuite

BASES = (ConformanceSuite, SnapshotConformanceSuite, PushConformanceSuite)


@pytest.mark.parametrize("name", ENABLED_CONNECTORS)
def test_every_enabled_connector_runs_the_conformance_suite(name):
    module = importlib.import_module(f"tests.connectors.{name}.test_conformance")
    suites = [v for v in vars(module).values()
              if isinstance(v, type) and issubclass(v, ConformanceSuite) and v not in BASES]
    assert suites and all(suite.adapter is not None for suite in suites), f"{name} has no conformance suite"
