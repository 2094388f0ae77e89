"""Runs keep the counters their job declares (pushed, skipped, …) beside the five standard ones

Revision ID: 0005_run_counters
Revises: 5c1f3e2b9d07
Create Date: 2026-12-06 12:10:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0005_run_counters'
down_revision = '5c1f3e2b9d07'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counters', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade():
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_column('counters')
