"""Banking: statement imports, statement lines, bulk reconciliations and their allocations

Revision ID: 0010_banking
Revises: 0009_epos_qbo
Create Date: 2026-12-07 06:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_banking'
down_revision = '0009_epos_qbo'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Money = sa.Numeric(precision=14, scale=2)


def upgrade():
    op.create_table('bank_imports',
    sa.Column('id', BigId, nullable=False),
    sa.Column('upload_sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('statement_ids', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('lines_total', sa.Integer(), nullable=False),
    sa.Column('lines_new', sa.Integer(), nullable=False),
    sa.Column('lines_duplicate', sa.Integer(), nullable=False),
    sa.Column('lines_rejected', sa.Integer(), nullable=False),
    sa.Column('run_id', BigId, nullable=True),
    sa.Column('imported_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_imports'))
    )
    with op.batch_alter_table('bank_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_imports_upload_sha256'), ['upload_sha256'], unique=False)

    op.create_table('bank_lines',
    sa.Column('id', BigId, nullable=False),
    sa.Column('identity', sa.String(length=64), nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('booking_date', sa.Date(), nullable=False),
    sa.Column('value_date', sa.Date(), nullable=True),
    sa.Column('amount', Money, nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('bank_reference', sa.String(length=140), nullable=False),
    sa.Column('end_to_end_id', sa.String(length=140), nullable=False),
    sa.Column('fitid', sa.String(length=140), nullable=False),
    sa.Column('reference', sa.String(length=140), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('counterparty_account', sa.String(length=64), nullable=False),
    sa.Column('remittance', sa.Text(), nullable=False),
    sa.Column('import_id', BigId, nullable=False),
    sa.Column('match_status', sa.String(length=10), nullable=False),
    sa.Column('match_rule', sa.String(length=20), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('invoices', sa.JSON(), nullable=False),
    sa.Column('suggested_client_id', sa.Integer(), nullable=True),
    sa.Column('suggestion_score', sa.Integer(), nullable=True),
    sa.Column('match_note', sa.Text(), nullable=False),
    sa.Column('matched_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_lines')),
    sa.UniqueConstraint('identity', name=op.f('uq_bank_lines_identity'))
    )
    with op.batch_alter_table('bank_lines', schema=None) as batch_op:
        batch_op.create_index('ix_bank_lines_match', ['match_status', 'booking_date'], unique=False)
        batch_op.create_index('ix_bank_lines_account_day', ['account', 'booking_date'], unique=False)

    op.create_table('bank_reconciliations',
    sa.Column('id', BigId, nullable=False),
    sa.Column('line_id', BigId, nullable=False),
    sa.Column('amount', Money, nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('invoices_total', sa.Integer(), nullable=False),
    sa.Column('posted_count', sa.Integer(), nullable=False),
    sa.Column('deleted_count', sa.Integer(), nullable=False),
    sa.Column('run_id', BigId, nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['bank_lines.id'], name=op.f('fk_bank_reconciliations_line_id_bank_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_reconciliations')),
    sa.UniqueConstraint('line_id', name=op.f('uq_bank_reconciliations_line_id'))
    )
    op.create_table('bank_allocations',
    sa.Column('id', BigId, nullable=False),
    sa.Column('reconciliation_id', BigId, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('invoice_number', sa.String(length=100), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('cents', sa.Integer(), nullable=False),
    sa.Column('provider_payment_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['reconciliation_id'], ['bank_reconciliations.id'],
                            name=op.f('fk_bank_allocations_reconciliation_id_bank_reconciliations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_allocations')),
    sa.UniqueConstraint('provider_payment_id', name=op.f('uq_bank_allocations_provider_payment_id'))
    )
    with op.batch_alter_table('bank_allocations', schema=None) as batch_op:
        batch_op.create_index('ix_bank_allocations_recon', ['reconciliation_id', 'position'], unique=False)


def downgrade():
    with op.batch_alter_table('bank_allocations', schema=None) as batch_op:
        batch_op.drop_index('ix_bank_allocations_recon')
    op.drop_table('bank_allocations')
    op.drop_table('bank_reconciliations')
    with op.batch_alter_table('bank_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_bank_lines_account_day')
        batch_op.drop_index('ix_bank_lines_match')
    op.drop_table('bank_lines')
    with op.batch_alter_table('bank_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_imports_upload_sha256'))
    op.drop_table('bank_imports')
