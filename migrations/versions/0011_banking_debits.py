"""Banking: debit lines get a match status of their own ("debit") instead of showing as unmatched credits

Revision ID: 0011_banking_debits
Revises: 0010_banking
Create Date: 2026-12-07 10:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011_banking_debits'
down_revision = '0010_banking'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE bank_lines SET match_status = 'debit' WHERE amount < 0 AND match_status IN ('unmatched', 'review')")


def downgrade():
    op.execute("UPDATE bank_lines SET match_status = 'unmatched' WHERE match_status = 'debit'")
