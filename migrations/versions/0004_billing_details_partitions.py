"""Bill-stop details partitioned by batch on PostgreSQL (a batch loads unindexed, then attaches)

Each batch's details become their own partition: the batch COPYs into a bare table, indexes it,
then attaches it, about three times faster than a million inserts into an indexed table; and a
batch leaving history is a DROP instead of a million-row DELETE. SQLite keeps the plain table.
Existing rows move into a partition per batch.

Revision ID: 5c1f3e2b9d07
Revises: a4250503b418
Create Date: 2026-11-22 02:45:00

"""
from alembic import op

revision = '5c1f3e2b9d07'
down_revision = 'a4250503b418'
branch_labels = None
depends_on = None

TABLE = "billing_bill_stop_details"
COLUMNS = """
    batch_id bigint NOT NULL,
    cpc_customer_no varchar(50) NOT NULL,
    crp_account_no varchar(50) NOT NULL,
    legacy_no varchar(50),
    customer_name varchar(255),
    address text,
    last_bill_date date,
    billing_status varchar(20) NOT NULL,
    is_bill_stop boolean NOT NULL,
    current_balance numeric(15, 2) NOT NULL,
    CONSTRAINT pk_billing_bill_stop_details PRIMARY KEY (batch_id, cpc_customer_no)"""
INDEXES = {"ix_billing_details_batch_crp": "batch_id, crp_account_no",
           "ix_billing_details_batch_status": "batch_id, billing_status",
           "ix_billing_details_batch_stop_cpc": "batch_id, is_bill_stop, cpc_customer_no"}


def _rebuild(partitioned):
    """Recreate the details table (partitioned or plain) and carry every row over."""
    op.execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_old")
    op.execute(f"ALTER TABLE {TABLE}_old RENAME CONSTRAINT pk_billing_bill_stop_details TO pk_{TABLE}_old")
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute(f"CREATE TABLE {TABLE} ({COLUMNS}) {'PARTITION BY LIST (batch_id)' if partitioned else ''}")
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {TABLE} ({columns})")
    if partitioned:
        op.execute(f"""DO $$ DECLARE b bigint; BEGIN
            FOR b IN SELECT DISTINCT batch_id FROM {TABLE}_old LOOP
              EXECUTE format('CREATE TABLE {TABLE}_%s PARTITION OF {TABLE} FOR VALUES IN (%s)', b, b);
            END LOOP; END $$""")
    op.execute(f"INSERT INTO {TABLE} SELECT * FROM {TABLE}_old")
    op.execute(f"DROP TABLE {TABLE}_old CASCADE")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(partitioned=True)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(partitioned=False)  # DROP … CASCADE of the old parent takes its partitions along
