"""EPOS to QBO receipt ledger and reconciliations

Revision ID: 0009_epos_qbo
Revises: 0008_crm_bridge
Create Date: 2026-12-07 03:32:03.217833

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_epos_qbo'
down_revision = '0008_crm_bridge'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('epos_qbo_receipts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('company', sa.String(length=64), nullable=False),
    sa.Column('epos_id', sa.String(length=40), nullable=False),
    sa.Column('trading_date', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('doc_number', sa.String(length=21), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('qbo_id', sa.String(length=40), nullable=False),
    sa.Column('request_id', sa.String(length=50), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_epos_qbo_receipts'))
    )
    with op.batch_alter_table('epos_qbo_receipts', schema=None) as batch_op:
        batch_op.create_index('ix_epos_qbo_receipts_day', ['company', 'trading_date', 'status'], unique=False)
        batch_op.create_index('uq_epos_qbo_receipts_txn', ['company', 'epos_id'], unique=True)

    op.create_table('epos_qbo_reconciliations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('company', sa.String(length=64), nullable=False),
    sa.Column('trading_date', sa.Date(), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('epos_total', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('qbo_total', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('difference', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('epos_count', sa.Integer(), nullable=False),
    sa.Column('receipts_created', sa.Integer(), nullable=False),
    sa.Column('receipts_existing', sa.Integer(), nullable=False),
    sa.Column('receipts_failed', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Double(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('processed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_epos_qbo_reconciliations'))
    )
    with op.batch_alter_table('epos_qbo_reconciliations', schema=None) as batch_op:
        batch_op.create_index('ix_epos_qbo_recon_day', ['company', 'trading_date', 'processed_at'], unique=False)



def downgrade():
    with op.batch_alter_table('epos_qbo_reconciliations', schema=None) as batch_op:
        batch_op.drop_index('ix_epos_qbo_recon_day')

    op.drop_table('epos_qbo_reconciliations')
    with op.batch_alter_table('epos_qbo_receipts', schema=None) as batch_op:
        batch_op.drop_index('uq_epos_qbo_receipts_txn')
        batch_op.drop_index('ix_epos_qbo_receipts_day')

    op.drop_table('epos_qbo_receipts')
