"""The CC&B tables the bill-stop batch reads, with Oracle Utilities CC&B names and types.

Names are lower case on purpose: SQLAlchemy treats lower-case names as case-insensitive, so Oracle
sees CI_ACCT (unquoted) and PostgreSQL sees ci_acct. CC&B declares no foreign keys in the database,
so neither do we; it does index the columns the joins use, and so do we.
"""
from sqlalchemy import CHAR, Column, Date, DateTime, Index, Integer, MetaData, Numeric, String, Table

# The source database is not ours: never mix these tables into the app's db.metadata.
metadata = MetaData()


def _id(name, width=10, **kw):
    """Return a CC&B key column: fixed-width, zero-padded digits."""
    return Column(name, CHAR(width), nullable=False, **kw)


ci_acct = Table(
    "ci_acct", metadata,
    _id("acct_id", primary_key=True),
    Column("cis_division", CHAR(5), nullable=False),
    Column("cust_cl_cd", CHAR(8), nullable=False),
    Column("setup_dt", Date, nullable=False),
    Column("mailing_prem_id", CHAR(10)),
)

ci_acct_per = Table(
    "ci_acct_per", metadata,
    _id("acct_id", primary_key=True),
    _id("per_id", primary_key=True),
    Column("main_cust_sw", CHAR(1), nullable=False),
    Column("acct_rel_type_cd", CHAR(8), nullable=False),
    Index("ci_acct_per_acct_ix", "acct_id"),
)

ci_per_name = Table(
    "ci_per_name", metadata,
    _id("per_id", primary_key=True),
    Column("seq_num", Integer, primary_key=True, autoincrement=False),
    Column("entity_name", String(254)),
    Column("prim_name_sw", CHAR(1), nullable=False),
    Column("name_type_flg", CHAR(4), nullable=False),
)

ci_prem = Table(
    "ci_prem", metadata,
    _id("prem_id", primary_key=True),
    Column("address1", String(254)),
    Column("city", String(90)),
    Column("postal", String(12)),
)

ci_sa = Table(
    "ci_sa", metadata,
    _id("sa_id", primary_key=True),
    _id("acct_id"),
    Column("sa_type_cd", CHAR(8), nullable=False),
    Column("sa_status_flg", CHAR(2), nullable=False),
    Column("start_dt", Date, nullable=False),
    Column("end_dt", Date),
    Column("char_prem_id", CHAR(10)),
    Index("ci_sa_acct_ix", "acct_id"),
)

ci_sa_sp = Table(
    "ci_sa_sp", metadata,
    _id("sa_sp_id", primary_key=True),
    _id("sa_id"),
    _id("sp_id"),
    Column("start_dttm", DateTime, nullable=False),
    Column("stop_dttm", DateTime),
    Index("ci_sa_sp_sa_ix", "sa_id"),
)

ci_sp_char = Table(
    "ci_sp_char", metadata,
    _id("sp_id", primary_key=True),
    Column("char_type_cd", CHAR(8), primary_key=True),
    Column("effdt", Date, primary_key=True),
    Column("adhoc_char_val", String(254), nullable=False),
    Column("char_val", CHAR(16), nullable=False),
    Index("ci_sp_char_sp_ix", "sp_id"),
)

ci_bill = Table(
    "ci_bill", metadata,
    _id("bill_id", 12, primary_key=True),
    _id("acct_id"),
    Column("bill_dt", Date),
    Column("bill_stat_flg", CHAR(2), nullable=False),
)

ci_bseg = Table(
    "ci_bseg", metadata,
    _id("bseg_id", 12, primary_key=True),
    _id("bill_id", 12),
    _id("sa_id"),
    Column("start_dt", Date),
    Column("end_dt", Date),
    Column("bseg_stat_flg", CHAR(2), nullable=False),
    Index("ci_bseg_sa_ix", "sa_id"),
)

ci_ft = Table(
    "ci_ft", metadata,
    _id("ft_id", 12, primary_key=True),
    _id("sa_id"),
    Column("ft_type_flg", CHAR(2), nullable=False),
    Column("cur_amt", Numeric(15, 2), nullable=False),
    Column("freeze_sw", CHAR(1), nullable=False),
    Column("freeze_dttm", DateTime),
    Index("ci_ft_sa_ix", "sa_id"),
)
