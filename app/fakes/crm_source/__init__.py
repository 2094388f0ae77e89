"""The fake source of the CRM bridge: a legacy MSSQL club database's `dbo` schema, created on PostgreSQL or
SQLite (no SQL Server runs here) and seeded with members (with versions and duplicates), services,
store and service invoices and receipts. `python -m app.fakes.crm_source --url URL` seeds one."""
from .schema import metadata
from .seed import create_and_seed, engine_for

__all__ = ["create_and_seed", "engine_for", "metadata"]
