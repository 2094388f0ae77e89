"""Uploaded job files stored once by content hash, and encrypted connections

Revision ID: 0007_uploads_conn
Revises: 0006_push_ledger
Create Date: 2026-12-06 12:10:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0007_uploads_conn'
down_revision = '0006_push_ledger'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
