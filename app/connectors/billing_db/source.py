"""The bill-stop query over CC&B's own tables, in SQLAlchemy Core so one query runs on Oracle,
PostgreSQL, MariaDB and SQLite.

A CPC (child) account is one whose service point carries the characteristic `CM-CPRCP` = 'CPC';
its parent (CRP) account number is the `CM_CPRLA` value with the latest effective date (children
get re-parented), and `CM_LEGCY` holds its legacy customer number. A CPC has a **bill stop** when
it has a service agreement in status 20 (active) or 50 (reactivated) and no *frozen* bill segment
(`BSEG_STAT_FLG` 50) ending inside the billing window — the current month, or the last N days when
Settings say so. Its last bill date is its latest frozen segment's end; its balance is the sum of
its frozen financial transactions.

Every per-account fact is one GROUP BY pass joined on the account id, not a correlated subquery per
row: the database reads each big table once. Values are trimmed because CC&B pads CHAR columns.
"""
from sqlalchemy import Column, Date, MetaData, Numeric, String, Table, and_, case, func, literal, select

_meta = MetaData()


def _table(name, *columns):
    return Table(name, _meta, *[Column(c, String) for c in columns])


# Only the columns the batch reads; names are lower case so Oracle resolves them case-insensitively.
ci_acct = _table("ci_acct", "acct_id", "mailing_prem_id")
ci_acct_per = _table("ci_acct_per", "acct_id", "per_id", "main_cust_sw")
ci_per_name = _table("ci_per_name", "per_id", "entity_name", "prim_name_sw")
ci_prem = _table("ci_prem", "prem_id", "address1", "city", "postal")
ci_sa = Table("ci_sa", _meta, Column("sa_id", String), Column("acct_id", String), Column("sa_status_flg", String),
              Column("char_prem_id", String))
ci_sa_sp = _table("ci_sa_sp", "sa_id", "sp_id")
ci_sp_char = Table("ci_sp_char", _meta, Column("sp_id", String), Column("char_type_cd", String),
                   Column("effdt", Date), Column("adhoc_char_val", String))
ci_bseg = Table("ci_bseg", _meta, Column("sa_id", String), Column("end_dt", Date), Column("bseg_stat_flg", String))
ci_ft = Table("ci_ft", _meta, Column("sa_id", String), Column("cur_amt", Numeric(15, 2)), Column("freeze_sw", String))

ACTIVE_SA = ("20", "50")
FROZEN = "50"
COLUMNS = ("crp_account_no", "cpc_customer_no", "legacy_no", "customer_name", "address", "has_active_sa",
           "last_bill_date", "billed_in_window", "current_balance")


def _trim(column):
    return func.trim(column)


def _cpc_accounts():
    """(acct_id, sp_id) of every child account: its SP is flagged CM-CPRCP = 'CPC'."""
    flagged = (select(ci_sp_char.c.sp_id).where(ci_sp_char.c.char_type_cd == "CM-CPRCP",
                                                 _trim(ci_sp_char.c.adhoc_char_val) == "CPC").subquery("flagged"))
    return (select(ci_sa.c.acct_id, func.min(ci_sa_sp.c.sp_id).label("sp_id"))
            .join(ci_sa_sp, ci_sa_sp.c.sa_id == ci_sa.c.sa_id)
            .join(flagged, flagged.c.sp_id == ci_sa_sp.c.sp_id)
            .group_by(ci_sa.c.acct_id).subquery("cpc"))


def _latest_char(char_type, alias):
    """Each SP's value of one characteristic at its latest effective date."""
    c = ci_sp_char.alias(f"{alias}_c")
    latest = (select(c.c.sp_id, func.max(c.c.effdt).label("effdt")).where(c.c.char_type_cd == char_type)
              .group_by(c.c.sp_id).subquery(f"{alias}_latest"))
    v = ci_sp_char.alias(f"{alias}_v")
    return (select(v.c.sp_id, func.max(_trim(v.c.adhoc_char_val)).label("value"))
            .join(latest, and_(latest.c.sp_id == v.c.sp_id, latest.c.effdt == v.c.effdt))
            .where(v.c.char_type_cd == char_type).group_by(v.c.sp_id).subquery(alias))


def _sa_facts():
    active = case((ci_sa.c.sa_status_flg.in_(ACTIVE_SA), 1), else_=0)
    return (select(ci_sa.c.acct_id, func.max(active).label("active"), func.min(ci_sa.c.char_prem_id).label("prem_id"))
            .group_by(ci_sa.c.acct_id).subquery("sa_facts"))


def _bill_facts(window_start, window_end):
    frozen = ci_bseg.c.bseg_stat_flg == FROZEN
    in_window = and_(frozen, ci_bseg.c.end_dt >= window_start, ci_bseg.c.end_dt < window_end)
    return (select(ci_sa.c.acct_id, func.max(case((frozen, ci_bseg.c.end_dt))).label("last_bill"),
                   func.max(case((in_window, 1), else_=0)).label("billed"))
            .join(ci_bseg, ci_bseg.c.sa_id == ci_sa.c.sa_id).group_by(ci_sa.c.acct_id).subquery("bill_facts"))


def _balances():
    return (select(ci_sa.c.acct_id, func.sum(ci_ft.c.cur_amt).label("balance"))
            .join(ci_ft, ci_ft.c.sa_id == ci_sa.c.sa_id).where(ci_ft.c.freeze_sw == "Y")
            .group_by(ci_sa.c.acct_id).subquery("balances"))


def _names():
    return (select(ci_acct_per.c.acct_id, func.min(ci_per_name.c.entity_name).label("name"))
            .join(ci_per_name, ci_per_name.c.per_id == ci_acct_per.c.per_id)
            .where(ci_acct_per.c.main_cust_sw == "Y", ci_per_name.c.prim_name_sw == "Y")
            .group_by(ci_acct_per.c.acct_id).subquery("names"))


def bill_stop_query(window_start, window_end):
    """One row per CPC account, in COLUMNS order."""
    cpc, parent, legacy = _cpc_accounts(), _latest_char("CM_CPRLA", "parent"), _latest_char("CM_LEGCY", "legacy")
    sa, bills, money, names = _sa_facts(), _bill_facts(window_start, window_end), _balances(), _names()
    prem = ci_prem.alias("prem")
    address = func.trim(func.coalesce(prem.c.address1, literal("")) + literal(", ") +
                        func.coalesce(prem.c.city, literal("")) + literal(" ") + func.coalesce(prem.c.postal, literal("")))
    acct = ci_acct.alias("acct")
    return (select(parent.c.value, _trim(cpc.c.acct_id), legacy.c.value, names.c.name, address,
                   func.coalesce(sa.c.active, 0), bills.c.last_bill, func.coalesce(bills.c.billed, 0),
                   func.coalesce(money.c.balance, 0))
            .select_from(cpc)
            .join(acct, acct.c.acct_id == cpc.c.acct_id)
            .outerjoin(parent, parent.c.sp_id == cpc.c.sp_id)
            .outerjoin(legacy, legacy.c.sp_id == cpc.c.sp_id)
            .outerjoin(sa, sa.c.acct_id == cpc.c.acct_id)
            .outerjoin(bills, bills.c.acct_id == cpc.c.acct_id)
            .outerjoin(money, money.c.acct_id == cpc.c.acct_id)
            .outerjoin(names, names.c.acct_id == cpc.c.acct_id)
            .outerjoin(prem, prem.c.prem_id == func.coalesce(acct.c.mailing_prem_id, sa.c.prem_id)))
