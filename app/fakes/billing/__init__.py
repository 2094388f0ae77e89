"""Fake Oracle CC&B source database for the Billing DB connector (see README.md).

Seed it as its own step:  python -m app.fakes.billing --url sqlite:///instance/billing_demo.db
"""
from .schema import metadata
from .seed import create_and_seed

__all__ = ["create_and_seed", "metadata"]
