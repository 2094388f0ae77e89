"""The bill-stop query over CC&B's own tables, in SQLAlchemy Core so one query runs on Oracle,
PostgreSQL, MariaDB and SQLite. It yields our details rows as they are stored, rule applied.

A CPC (child) account is one whose service point carries the characteristic `CM-CPRCP` = 'CPC';
its parent (CRP) account number is the `CM_CPRLA` value with the latest effective date (children
get re-parented), and `CM_LEGCY` holds its legacy customer number. A CPC has a **bill stop** when
it has a service agreement in status 20 (active) or 50 (reactivated) and no *frozen* bill segment
(`BSEG_STAT_FLG` 50) ending inside the billing window — the current month, or the last N days when
Settings say so. With an active SA and a frozen segment in the window it is "Active Billing";
without an active SA, "No Active SA". Its last bill date is its latest frozen segment's end; its
balance is the sum of its frozen financial transactions.

How it reads: every big table once. The characteristics in one ranked pass over `ci_sp_char`;
bill segments and financial transactions grouped per SA, then everything per account in one
GROUP BY over `ci_sa`; never a correlated subquery per row. On PostgreSQL the per-SA groups walk
the `sa_id` indexes in order, so nothing is hashed to disk. Values are trimmed because CC&B pads
CHAR columns, and an empty value is NULL, as Oracle would have it.
"""
from sqlalchemy import (Boolean, Column, Date, Integer, MetaData, Numeric, String, Table, and_, case, func, literal,
                        select, type_coerce)

from .models import ACTIVE_BILLING, BILL_STOP, NO_ACTIVE_SA

_meta = MetaData()
NO_PARENT = "(no parent)"


def _table(name, *columns):
    return Table(name, _meta, *[Column(c, String) for c in columns])


# Only the columns the batch reads; names are lower case so Oracle resolves them case-insensitively.
ci_acct = _table("ci_acct", "acct_id", "mailing_prem_id")
ci_acct_per = _table("ci_acct_per", "acct_id", "per_id", "main_cust_sw")
ci_per_name = _table("ci_per_name", "per_id", "entity_name", "prim_name_sw")
ci_prem = _table("ci_prem", "prem_id", "address1", "city", "postal")
ci_sa = _table("ci_sa", "sa_id", "acct_id", "sa_status_flg", "char_prem_id")
ci_sa_sp = _table("ci_sa_sp", "sa_id", "sp_id")
ci_sp_char = Table("ci_sp_char", _meta, Column("sp_id", String), Column("char_type_cd", String),
                   Column("effdt", Date), Column("adhoc_char_val", String))
ci_bseg = Table("ci_bseg", _meta, Column("sa_id", String), Column("end_dt", Date), Column("bseg_stat_flg", String))
ci_ft = Table("ci_ft", _meta, Column("sa_id", String), Column("cur_amt", Numeric(15, 2)), Column("freeze_sw", String))

ACTIVE_SA = ("20", "50")
FROZEN = "50"
PARENT, LEGACY, CHILD_FLAG = "CM_CPRLA", "CM_LEGCY", "CM-CPRCP"
# billing_bill_stop_details' columns, in table order: what details_query yields.
COLUMNS = ("batch_id", "cpc_customer_no", "crp_account_no", "legacy_no", "customer_name", "address",
           "last_bill_date", "billing_status", "is_bill_stop", "current_balance")


def _clean(value):
    """Trimmed, and NULL when nothing is left (CC&B pads CHAR columns; Oracle reads '' as NULL)."""
    return func.nullif(func.trim(value), literal(""))


def _cpc_accounts():
    """(acct_id, sp_id) of every child account: an SP of one of its SAs is flagged CM-CPRCP = 'CPC'.

    The 'CPC' test is inside the aggregate, not the join: the planner has no statistics for a
    condition on trim(), guesses a few thousand children instead of a million, and then picks
    joins that spill to disk. Grouped, it knows there is about one row per account.
    """
    flag = ci_sp_char
    child_sp = func.min(case((func.trim(flag.c.adhoc_char_val) == "CPC", ci_sa_sp.c.sp_id)))
    return (select(ci_sa.c.acct_id, child_sp.label("sp_id"))
            .join(ci_sa_sp, ci_sa_sp.c.sa_id == ci_sa.c.sa_id)
            .join(flag, and_(flag.c.sp_id == ci_sa_sp.c.sp_id, flag.c.char_type_cd == CHILD_FLAG))
            .group_by(ci_sa.c.acct_id).having(child_sp.is_not(None)).subquery("cpc"))


def _latest_chars():
    """Each SP's parent and legacy number, each at its latest effective date: one ranked pass."""
    c = ci_sp_char.c
    ranked = (select(c.sp_id, c.char_type_cd, _clean(c.adhoc_char_val).label("char_value"),
                     func.row_number().over(partition_by=(c.sp_id, c.char_type_cd), order_by=c.effdt.desc())
                     .label("nth_latest"))
              .where(c.char_type_cd.in_((PARENT, LEGACY))).subquery("ranked"))

    def latest(char_type):  # in the aggregate, not a WHERE: the planner would guess 0.5% of rows pass
        return func.max(case((and_(ranked.c.char_type_cd == char_type, ranked.c.nth_latest == 1), ranked.c.char_value)))
    return (select(ranked.c.sp_id, latest(PARENT).label("parent"), latest(LEGACY).label("legacy"))
            .group_by(ranked.c.sp_id).subquery("chars"))


def _segments_per_sa(window_start, window_end):
    frozen = ci_bseg.c.bseg_stat_flg == FROZEN
    in_window = and_(frozen, ci_bseg.c.end_dt >= window_start, ci_bseg.c.end_dt < window_end)
    return (select(ci_bseg.c.sa_id, func.max(case((frozen, ci_bseg.c.end_dt))).label("last_bill"),
                   func.max(case((in_window, 1), else_=0)).label("billed"))
            .group_by(ci_bseg.c.sa_id).subquery("segments"))


def _balance_per_sa():
    return (select(ci_ft.c.sa_id, func.sum(ci_ft.c.cur_amt).label("balance")).where(ci_ft.c.freeze_sw == "Y")
            .group_by(ci_ft.c.sa_id).subquery("frozen_ft"))


def _account_facts(window_start, window_end):
    """Per account: any active SA, a premise, the last frozen segment's end, billed in window, balance."""
    segments, money = _segments_per_sa(window_start, window_end), _balance_per_sa()
    active = case((ci_sa.c.sa_status_flg.in_(ACTIVE_SA), 1), else_=0)
    return (select(ci_sa.c.acct_id, func.max(active).label("active"), func.min(ci_sa.c.char_prem_id).label("prem_id"),
                   func.max(segments.c.last_bill).label("last_bill"), func.max(segments.c.billed).label("billed"),
                   func.sum(money.c.balance).label("balance"))
            .outerjoin(segments, segments.c.sa_id == ci_sa.c.sa_id)
            .outerjoin(money, money.c.sa_id == ci_sa.c.sa_id)
            .group_by(ci_sa.c.acct_id).subquery("facts"))


def _names():
    return (select(ci_acct_per.c.acct_id, func.min(ci_per_name.c.entity_name).label("name"))
            .join(ci_per_name, ci_per_name.c.per_id == ci_acct_per.c.per_id)
            .where(ci_acct_per.c.main_cust_sw == "Y", ci_per_name.c.prim_name_sw == "Y")
            .group_by(ci_acct_per.c.acct_id).subquery("names"))


def _address(prem):
    joined = (func.coalesce(prem.c.address1, literal("")) + literal(", ") + func.coalesce(prem.c.city, literal(""))
              + literal(" ") + func.coalesce(prem.c.postal, literal("")))
    return case((prem.c.prem_id.is_(None), None), else_=_clean(joined))


def details_query(batch_id, window_start, window_end):
    """One details row per CPC account for batch_id, in COLUMNS order, the bill-stop rule applied."""
    cpc, chars, facts, names = _cpc_accounts(), _latest_chars(), _account_facts(window_start, window_end), _names()
    prem, acct = ci_prem.alias("prem"), ci_acct.alias("acct")
    active, billed = func.coalesce(facts.c.active, 0) == 1, func.coalesce(facts.c.billed, 0) == 1
    stop = and_(active, ~billed)
    status = case((stop, BILL_STOP), (active, ACTIVE_BILLING), else_=NO_ACTIVE_SA)
    return (select(literal(batch_id, Integer), func.trim(cpc.c.acct_id), func.coalesce(chars.c.parent, NO_PARENT),
                   chars.c.legacy, _clean(names.c.name), _address(prem), facts.c.last_bill, status,
                   # 1/0 rather than the condition itself: Oracle before 23 cannot select a condition
                   type_coerce(case((stop, 1), else_=0), Boolean), func.coalesce(facts.c.balance, 0))
            .select_from(cpc)
            .join(acct, acct.c.acct_id == cpc.c.acct_id)
            .outerjoin(chars, chars.c.sp_id == cpc.c.sp_id)
            .outerjoin(facts, facts.c.acct_id == cpc.c.acct_id)
            .outerjoin(names, names.c.acct_id == cpc.c.acct_id)
            .outerjoin(prem, prem.c.prem_id == func.coalesce(acct.c.mailing_prem_id, facts.c.prem_id)))
