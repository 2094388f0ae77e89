"""The runs engine is tested with its own test jobs only (tests/jobs.py)."""
import pytest


@pytest.fixture(autouse=True)
def _core_jobs_only(core_jobs_only):
    pass
