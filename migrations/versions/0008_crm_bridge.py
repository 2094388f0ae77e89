"""CRM bridge: value mappings, deal triggers, minimum ids and de-duplication verdicts

Revision ID: 0008_crm_bridge
Revises: 0007_uploads_conn
Create Date: 2026-12-06 19:20:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0008_crm_bridge'
down_revision = '0007_uploads_conn'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('crm_mappings',
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('source_value', sa.String(length=100), nullable=False),
    sa.Column('target_value', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'source_value', name=op.f('pk_crm_mappings'))
    )
    op.create_table('crm_deal_triggers',
    sa.Column('service_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('funnel_id', sa.Integer(), nullable=False),
    sa.Column('funnel_level_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('service_id', name=op.f('pk_crm_deal_triggers'))
    )
    op.create_table('crm_minimum_ids',
    sa.Column('table_name', sa.String(length=40), nullable=False),
    sa.Column('min_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('table_name', name=op.f('pk_crm_minimum_ids'))
    )
    op.create_table('crm_duplicates',
    sa.Column('person_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('winner_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=400), nullable=False),
    sa.Column('found_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('person_id', name=op.f('pk_crm_duplicates'))
    )


def downgrade():
    op.drop_table('crm_duplicates')
    op.drop_table('crm_minimum_ids')
    op.drop_table('crm_deal_triggers')
    op.drop_table('crm_mappings')
