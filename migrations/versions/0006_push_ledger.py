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
    op.create_table('sync_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('connector', sa.String(length=50), nullable=False),
    sa.Column('stream', sa.String(length=50), nullable=False),
    sa.Column('source_key', sa.String(length=200), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('target_id', sa.String(length=200), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('client_key', sa.String(length=64), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('synced_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_records'))
    )
    with op.batch_alter_table('sync_records', schema=None) as batch_op:
        batch_op.create_index('uq_sync_records_key', ['connector', 'stream', 'source_key'], unique=True)
        batch_op.create_index('ix_sync_records_status', ['connector', 'stream', 'status'], unique=False)
    op.create_table('sync_cursors',
    sa.Column('connector', sa.String(length=50), nullable=False),
    sa.Column('stream', sa.String(length=50), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('connector', 'stream', name=op.f('pk_sync_cursors'))
    )


def downgrade():
    op.drop_table('sync_cursors')
    with op.batch_alter_table('sync_records', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_records_status')
        batch_op.drop_index('uq_sync_records_key')
    op.drop_table('sync_records')
