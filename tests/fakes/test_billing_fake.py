"""The fake CC&B database: the same rows on every backend, and the bill stops the rule finds in them."""
import datetime as dt
import os

import pytest
from sqlalchemy import Date, bindparam, create_engine, func, select, text

from app.db import installed_driver
from app.fakes.billing import create_and_seed, metadata

TODAY = dt.date(2026, 11, 21)
SMALL = dict(crps=20, cpcs=2000, seed=7, today=TODAY)
PG_URL = "postgresql://postgres@127.0.0.1:5432/syncdeck_fake_ccb"
MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/test"

# The rule, written against the source tables only: a CPC (flagged on its SA's service point) with an
# SA in status 20 or 50 and no frozen (50) bill segment ending in the current month.
BILL_STOPS = text("""
    SELECT COUNT(*) FROM ci_acct a
    WHERE EXISTS (SELECT 1 FROM ci_sa s
                  JOIN ci_sa_sp ss ON ss.sa_id = s.sa_id
                  JOIN ci_sp_char c ON c.sp_id = ss.sp_id
                  WHERE s.acct_id = a.acct_id AND c.char_type_cd = 'CM-CPRCP' AND TRIM(c.adhoc_char_val) = 'CPC')
      AND EXISTS (SELECT 1 FROM ci_sa s WHERE s.acct_id = a.acct_id AND s.sa_status_flg IN ('20', '50'))
      AND NOT EXISTS (SELECT 1 FROM ci_sa s JOIN ci_bseg b ON b.sa_id = s.sa_id
                      WHERE s.acct_id = a.acct_id AND b.bseg_stat_flg = '50'
                        AND b.end_dt >= :month_start AND b.end_dt < :next_month)
""").bindparams(bindparam("month_start", type_=Date), bindparam("next_month", type_=Date))

# Each CPC's current parent: the CM_CPRLA value with the latest EFFDT (re-parented children have two).
CURRENT_PARENTS = """
    SELECT TRIM(c.adhoc_char_val) AS parent FROM ci_sp_char c
    WHERE c.char_type_cd = 'CM_CPRLA'
      AND c.effdt = (SELECT MAX(c2.effdt) FROM ci_sp_char c2
                     WHERE c2.sp_id = c.sp_id AND c2.char_type_cd = 'CM_CPRLA')
"""


def _seed(url, **kw):
    summary = create_and_seed(url, **{**SMALL, **kw})
    engine = create_engine(installed_driver(url))
    return engine, summary


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory):
    engine, summary = _seed(f"sqlite:///{tmp_path_factory.mktemp('billing')}/ccb.db")
    yield engine, summary
    engine.dispose()


@pytest.fixture(scope="module")
def postgres_db():
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("TEST_DATABASE_URL not set: PostgreSQL pass skipped")
    admin = create_engine(installed_driver(PG_URL.rsplit("/", 1)[0] + "/postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:   # unreachable PostgreSQL fails here, never skips
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = 'syncdeck_fake_ccb'")):
            conn.execute(text("CREATE DATABASE syncdeck_fake_ccb"))
    admin.dispose()
    engine, summary = _seed(PG_URL)
    yield engine, summary
    engine.dispose()


@pytest.fixture(scope="module")
def mariadb_db():
    pytest.importorskip("pymysql", reason="pymysql not installed: MariaDB pass skipped")
    engine, summary = _seed(MARIADB_URL)
    yield engine, summary
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite_db", "postgres_db", "mariadb_db"])
def seeded(request):
    return request.getfixturevalue(request.param)


def dump(engine, strip=False):
    """Return every table's rows in key order; strip=True for MariaDB, which drops CHAR padding."""
    out = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(v.rstrip() if strip and isinstance(v, str) else v for v in r) for r in rows]
    return out


def distinct(engine, column):
    with engine.connect() as conn:
        return set(conn.scalars(select(column).distinct()))


def test_same_seed_same_rows(tmp_path):
    first, _ = _seed(f"sqlite:///{tmp_path}/a.db", cpcs=300)
    again, _ = _seed(f"sqlite:///{tmp_path}/b.db", cpcs=300)
    other, _ = _seed(f"sqlite:///{tmp_path}/c.db", cpcs=300, seed=8)
    try:
        assert dump(first) == dump(again)
        assert dump(first)["ci_sa"] != dump(other)["ci_sa"]
    finally:
        for engine in (first, again, other):
            engine.dispose()


def test_copy_loads_exactly_what_insert_loads(sqlite_db, postgres_db):
    # COPY (PostgreSQL) and executemany (elsewhere) must agree on NULLs, blanks and padding.
    assert dump(postgres_db[0]) == dump(sqlite_db[0])


def test_mariadb_holds_the_same_rows(sqlite_db, mariadb_db):
    assert dump(mariadb_db[0], strip=True) == dump(sqlite_db[0], strip=True)


def test_summary_counts_the_rows(seeded):
    engine, summary = seeded
    with engine.connect() as conn:
        counts = {t.name: conn.scalar(select(func.count()).select_from(t)) for t in metadata.sorted_tables}
    assert counts == summary["rows"]
    assert summary["cpcs"] == 2000 and summary["noise"] == 200


def test_flags_are_blank_padded(seeded):
    engine, _ = seeded
    t = metadata.tables
    pad = "" if engine.dialect.name == "mysql" else " "   # MariaDB strips CHAR padding on read
    assert distinct(engine, t["ci_bill"].c.bill_stat_flg) == {"C" + pad, "P" + pad}
    assert "E-RES" + pad * 3 in distinct(engine, t["ci_sa"].c.sa_type_cd)
    assert "MTRTYP" + pad * 2 in distinct(engine, t["ci_sp_char"].c.char_type_cd)
    assert pad * 16 in distinct(engine, t["ci_sp_char"].c.char_val)
    assert {"CM-CPRCP", "CM_CPRLA", "CM_LEGCY"} <= distinct(engine, t["ci_sp_char"].c.char_type_cd)
    assert distinct(engine, t["ci_bseg"].c.bseg_stat_flg) == {"30", "50", "60"}
    assert distinct(engine, t["ci_ft"].c.freeze_sw) == {"Y", "N"}


def test_every_sa_status_is_present(seeded):
    engine, _ = seeded
    assert distinct(engine, metadata.tables["ci_sa"].c.sa_status_flg) == {"10", "20", "30", "40", "50", "60", "70"}


def test_nulls_where_ccb_has_them(seeded):
    engine, _ = seeded
    t = metadata.tables
    for column in (t["ci_per_name"].c.entity_name, t["ci_prem"].c.address1, t["ci_prem"].c.city,
                   t["ci_prem"].c.postal, t["ci_acct"].c.mailing_prem_id, t["ci_bseg"].c.end_dt,
                   t["ci_bill"].c.bill_dt, t["ci_sa"].c.end_dt, t["ci_ft"].c.freeze_dttm):
        assert None in distinct(engine, column), column


def test_bill_stops_follow_the_rule(seeded):
    engine, summary = seeded
    with engine.connect() as conn:
        truth = conn.scalar(BILL_STOPS, {"month_start": dt.date(2026, 11, 1), "next_month": dt.date(2026, 12, 1)})
    assert 0.06 * 2000 < truth < 0.18 * 2000   # bill_stop_share 0.12 of 2,000 CPCs
    assert truth == summary["bill_stops_intended"]


def test_children_link_to_existing_parents(seeded):
    engine, _ = seeded
    with engine.connect() as conn:
        orphans = conn.scalar(text("""
            SELECT COUNT(*) FROM ci_sp_char c WHERE c.char_type_cd = 'CM_CPRLA'
              AND NOT EXISTS (SELECT 1 FROM ci_acct p WHERE p.acct_id = TRIM(c.adhoc_char_val))"""))
        crps = set(conn.scalars(text("""
            SELECT s.acct_id FROM ci_sa s JOIN ci_sa_sp ss ON ss.sa_id = s.sa_id
            JOIN ci_sp_char c ON c.sp_id = ss.sp_id
            WHERE c.char_type_cd = 'CM-CPRCP' AND TRIM(c.adhoc_char_val) = 'CRP'""")))
        parents = list(conn.scalars(text(CURRENT_PARENTS)))
    assert orphans == 0
    assert len(crps) == 20 and set(parents) <= crps
    assert len(parents) == 2000   # one current parent per child, re-parented ones included
