"""Push ledger: one row per source record pushed to a target, and a cursor per stream

Revision ID: 0006_push_ledger
Revises: 0005_run_counters
Create Date: 2026-12-06 12:10:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0006_push_ledger'
down_revision = '0005_run_counters'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
