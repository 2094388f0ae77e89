"""A deterministic CC&B population: CRP parents, CPC children and unrelated accounts, as row streams.

Rows come out as (table name, tuple in the table's column order), one account at a time, so nothing
is held in memory. Values are stored the way CC&B stores them: CHAR columns already blank-padded
(SQLite would not pad them for us), a single blank for "empty" in NOT NULL text columns, NULLs only
where CC&B allows them.
"""
import bisect
import datetime as dt
import itertools
import random
from decimal import Decimal

from .names import CITIES, FIRST, LAST, ROADS

# Zero-padded CC&B keys; each kind in its own block so a key joined to the wrong table finds nothing.
_ID_FORMAT = {
    "acct": ("%010d", 100_000_001), "per": ("%010d", 200_000_001), "prem": ("%010d", 300_000_001),
    "sa": ("%010d", 400_000_001), "sp": ("%010d", 500_000_001), "sa_sp": ("%010d", 600_000_001),
    "bill": ("%012d", 10_000_000_001), "bseg": ("%012d", 20_000_000_001), "ft": ("%012d", 30_000_000_001),
}
# Status mix of a child that is NOT a bill stop; 20/50 ones are billed this month.
_STATUS_WEIGHTS = (("20", 72), ("50", 6), ("10", 4), ("30", 5), ("40", 7), ("60", 4), ("70", 2))
# How a bill stop looks in the data (see README): weights of each shape.
_STOP_SHAPES = (("older", 45), ("canceled", 15), ("pending", 10), ("null_end", 10), ("none", 20))
_BLANK16 = " " * 16
_NINE, _TEN = dt.time(9, 0), dt.time(10, 0)


def _cumulative(pairs):
    """Return (values, cumulative weights) for bisect-based weighted choice."""
    values, cum, total = [], [], 0
    for value, weight in pairs:
        total += weight
        values.append(value)
        cum.append(total)
    return values, cum


class Population:
    """Generate the rows; count the bill stops it means to make while doing so."""

    def __init__(self, crps=200, cpcs=20000, seed=1, today=None, bill_stop_share=0.12, noise=None):
        self.crps, self.cpcs = crps, cpcs
        self.noise = cpcs // 10 if noise is None else noise
        self.share = bill_stop_share
        self.today = today or dt.date.today()
        self.rng = random.Random(seed)
        self.intended_bill_stops = 0
        self._ids = {kind: map(fmt.__mod__, itertools.count(start)) for kind, (fmt, start) in _ID_FORMAT.items()}
        self._statuses = _cumulative(_STATUS_WEIGHTS)
        self._shapes = _cumulative(_STOP_SHAPES)
        self._month0 = self.today.year * 12 + self.today.month - 1

    def rows(self):
        """Yield every row: the parents first, then children with unrelated accounts mixed in."""
        parents = []
        for _ in range(self.crps):
            parents.append((yield from self._crp()))
        weights = [self.rng.paretovariate(1.3) for _ in parents]  # a few CRPs own many children
        parent_pick = (parents, _cumulative(zip(parents, weights))[1])
        every = max(1, self.cpcs // self.noise) if self.noise else 0
        made_noise = 0
        for i in range(self.cpcs):
            yield from self._cpc(parent_pick)
            if every and i % every == every - 1 and made_noise < self.noise:
                made_noise += 1
                yield from self._other()
        for _ in range(self.noise - made_noise):
            yield from self._other()

    # ----------------------------------------------------------------- helpers
    def _id(self, kind):
        return next(self._ids[kind])

    def _int(self, lo, hi):
        """Return an int in [lo, hi]; random.randint is several times slower and this runs ~10M times."""
        return lo + int(self.rng.random() * (hi - lo + 1))

    def _choice(self, seq):
        return seq[int(self.rng.random() * len(seq))]

    def _pick(self, values_cum):
        values, cum = values_cum
        return values[bisect.bisect(cum, self.rng.random() * cum[-1])]

    def _month_day(self, back, day):
        """Return day `day` of the month `back` months before today's (day capped to stay valid)."""
        m = self._month0 - back
        if back == 0:
            day = min(day, self.today.day)
        return dt.date(m // 12, m % 12 + 1, min(day, 28))

    def _days_ago(self, lo, hi):
        return self.today - dt.timedelta(days=self._int(lo, hi - 1))

    # ---------------------------------------------------------------- accounts
    def _customer(self, cust_cl, established=True):
        """Yield premise, account, persons and names; return (acct_id, prem_id, setup_dt)."""
        r = self.rng
        acct_id, prem_id = self._id("acct"), self._id("prem")
        yield "ci_prem", self._premise(prem_id)
        setup = self._days_ago(400, 3650) if established else self._days_ago(5, 60)
        mailing = None if r.random() < 0.01 else prem_id   # nullable in CC&B: fall back to the SA's premise
        yield "ci_acct", (acct_id, "DHK%d " % self._int(1, 4), cust_cl, setup, mailing)
        per_id = self._id("per")
        yield "ci_acct_per", (acct_id, per_id, "Y", "MAIN    ")
        yield from self._names(per_id)
        if r.random() < 0.03:   # a second, non-main person: joins without MAIN_CUST_SW='Y' double count
            other = self._id("per")
            yield "ci_acct_per", (acct_id, other, "N", "OCCUPANT")
            yield from self._names(other)
        return acct_id, prem_id, setup

    def _premise(self, prem_id):
        r = self.rng
        address = None if r.random() < 0.01 else "House %d, %s" % (self._int(1, 250), self._choice(ROADS))
        city = None if r.random() < 0.02 else self._choice(CITIES)
        postal = None if r.random() < 0.05 else str(self._int(1000, 1399))
        return prem_id, address, city, postal

    def _names(self, per_id):
        r = self.rng
        last = self._choice(LAST)
        name = None if r.random() < 0.01 else "%s,%s" % (last, self._choice(FIRST))
        yield "ci_per_name", (per_id, 1, name, "Y", "PRIM")
        if r.random() < 0.02:   # an alias: joins without PRIM_NAME_SW='Y' double count
            yield "ci_per_name", (per_id, 2, "%s,%s" % (last, self._choice(FIRST)), "N", "ALT ")

    def _service(self, acct_id, prem_id, sp_id, sa_type, status, start, end):
        """Yield one SA and its link to the service point; return the SA id."""
        sa_id = self._id("sa")
        yield "ci_sa", (sa_id, acct_id, sa_type, status, start, end, prem_id)
        stop = dt.datetime.combine(end, _NINE) if end and status in ("40", "60", "70") else None
        yield "ci_sa_sp", (self._id("sa_sp"), sa_id, sp_id, dt.datetime.combine(start, _NINE), stop)
        return sa_id

    def _adhoc(self, sp_id, char_type, effdt, value):
        return "ci_sp_char", (sp_id, char_type, effdt, value, _BLANK16)

    def _crp(self):
        """Yield a parent (CRP) account billed this month; return its ACCT_ID."""
        acct_id, prem_id, setup = yield from self._customer("CRP     ")
        sp_id = self._id("sp")
        sa_id = yield from self._service(acct_id, prem_id, sp_id, "CRP-E   ", "20", setup, None)
        yield self._adhoc(sp_id, "CM-CPRCP", setup, "CRP")
        yield self._adhoc(sp_id, "CM_LEGCY", setup, str(self._int(10_000_000, 99_999_998)))
        yield from self._bills(acct_id, sa_id, [(k, "50", "C ") for k in (0, 1, 2)], self._int(1, 28))
        return acct_id

    def _other(self):
        """Yield an account that is no CPC: a query that forgets the CPC flag counts these."""
        r = self.rng
        acct_id, prem_id, setup = yield from self._customer("RES     " if r.random() < 0.8 else "COM     ")
        sp_id = self._id("sp")
        sa_id = yield from self._service(acct_id, prem_id, sp_id, "E-RES   ", "20", setup, None)
        if r.random() < 0.5:
            yield self._adhoc(sp_id, "CM_LEGCY", setup, str(self._int(10_000_000, 99_999_998)))
        if r.random() < 0.3:
            yield "ci_sp_char", (sp_id, "MTRTYP  ", setup, " ", "1PH-DIGITAL     ")
        months = [1, 2] if r.random() < 0.3 else [0, 1, 2]   # some look like bill stops, but are no CPC
        yield from self._bills(acct_id, sa_id, [(k, "50", "C ") for k in months], self._int(1, 28))

    # ---------------------------------------------------------------- children
    def _cpc(self, parent_pick):
        """Yield one child (CPC) account: its SAs, SP characteristics and bills."""
        r = self.rng
        if r.random() < self.share:
            self.intended_bill_stops += 1
            status, shape = ("20" if r.random() < 0.85 else "50"), self._pick(self._shapes)
        else:
            status = self._pick(self._statuses)
            shape = "billed" if status in ("20", "50") else status
        established = shape not in ("none", "10")
        acct_id, prem_id, setup = yield from self._customer(
            "RES     " if r.random() < 0.85 else "COM     ", established)
        sp_id, cycle = self._id("sp"), self._int(1, 28)
        sa_type = "E-RES   " if r.random() < 0.85 else "E-COM   "
        if established and r.random() < 0.10:
            yield from self._earlier_service(acct_id, prem_id, sp_id, sa_type, setup, cycle)
        plan, end = self._plan(shape, cycle, setup)
        start = self.today + dt.timedelta(days=self._int(1, 20)) if shape == "10" else setup
        sa_id = yield from self._service(acct_id, prem_id, sp_id, sa_type, status, start, end)
        yield from self._links(sp_id, setup, parent_pick)
        yield from self._bills(acct_id, sa_id, plan, cycle)

    def _plan(self, shape, cycle, setup):
        """Return ([(months back | None for a NULL END_DT, BSEG_STAT_FLG, BILL_STAT_FLG)], SA END_DT)."""
        r = self.rng
        older = [(k, "50", "C ") for k in range(1, self._int(1, 4) + 1)]
        if shape == "billed":   # frozen segment this month: no bill stop; sometimes a canceled rebill too
            extra = [(0, "60", "C ")] if r.random() < 0.1 else []
            return [(0, "50", "C ")] + extra + older[:self._int(0, 3)], None
        if shape == "older":    # the classic bill stop: last frozen segment months ago
            gap = self._int(1, 6)
            return [(k + gap - 1, s, b) for k, s, b in older], None
        if shape == "canceled":  # this month's segment was canceled (60): still a bill stop
            return older + [(0, "60", "C ")], None
        if shape == "pending":   # this month's segment is only freezable (30) on a pending bill
            return older + [(0, "30", "P ")], None
        if shape == "null_end":  # frozen, but END_DT is NULL: it ends in no month
            return older[:self._int(0, 3)] + [(None, "50", "C ")], None
        if shape == "30":        # pending stop: billed as usual, stops soon
            return [(0, "50", "C ")] + older, self.today + dt.timedelta(days=self._int(1, 20))
        if shape in ("40", "60"):  # stopped / closed: billed until the stop
            gap = self._int(2, 8)
            plan = [(k + gap - 1, s, b) for k, s, b in older]
            return plan, self._month_day(gap, cycle)
        if shape == "70":        # canceled before any bill
            return [], setup
        return [], None          # "none" (active, never billed) and "10" (pending start)

    def _earlier_service(self, acct_id, prem_id, sp_id, sa_type, setup, cycle):
        """Yield a second, non-active SA on the same service point, as customers who re-applied have."""
        status = self._choice(("40", "40", "60", "70", "10", "30"))
        gap = self._int(6, 9)
        plan = [(k, "50", "C ") for k in range(gap, gap + self._int(1, 3))] if status in ("40", "60") else []
        end = {"40": self._month_day(gap, cycle), "60": self._month_day(gap, cycle), "70": setup,
               "30": self.today + dt.timedelta(days=self._int(1, 20))}.get(status)
        sa_id = yield from self._service(acct_id, prem_id, sp_id, sa_type, status, setup, end)
        yield from self._bills(acct_id, sa_id, plan, cycle)

    def _links(self, sp_id, effdt, parent_pick):
        """Yield the SP characteristics that make the account a CPC of its parent."""
        r = self.rng
        yield self._adhoc(sp_id, "CM-CPRCP", effdt, "CPC")
        linked = effdt
        if r.random() < 0.02:   # re-parented: only the CM_CPRLA with the latest EFFDT counts
            yield self._adhoc(sp_id, "CM_CPRLA", effdt, self._pick(parent_pick))
            linked = min(effdt + dt.timedelta(days=self._int(30, 300)), self.today)
        parent = self._pick(parent_pick)
        yield self._adhoc(sp_id, "CM_CPRLA", linked, parent + " " if r.random() < 0.01 else parent)
        yield self._adhoc(sp_id, "CM_LEGCY", effdt, str(self._int(10_000_000, 99_999_998)))
        if r.random() < 0.3:
            yield "ci_sp_char", (sp_id, "MTRTYP  ", effdt, " ", "1PH-DIGITAL     ")

    # ------------------------------------------------------------------- bills
    def _bills(self, acct_id, sa_id, plan, cycle):
        """Yield one bill, bill segment and financial transactions per planned month, then a payment."""
        r = self.rng
        billed = 0
        for back, seg_stat, bill_stat in plan:
            end = None if back is None else self._month_day(back, cycle)
            start = (end or self._month_day(0, cycle)) - dt.timedelta(days=30)
            bill_id = self._id("bill")
            bill_dt = None if bill_stat == "P " else (end or self._month_day(0, cycle))
            yield "ci_bill", (bill_id, acct_id, bill_dt, bill_stat)
            yield "ci_bseg", (self._id("bseg"), bill_id, sa_id, start, end, seg_stat)
            cents = self._int(30_000, 899_999)
            amount = Decimal(cents).scaleb(-2)
            if seg_stat == "30":   # not frozen yet: its FT is not in the balance
                yield "ci_ft", (self._id("ft"), sa_id, "BS", amount, "N", None)
                continue
            frozen = dt.datetime.combine(bill_dt, _TEN)
            yield "ci_ft", (self._id("ft"), sa_id, "BS", amount, "Y", frozen)
            if seg_stat == "60":   # a canceled segment's charge is reversed by a bill cancel FT
                yield "ci_ft", (self._id("ft"), sa_id, "BX", -amount, "Y", frozen)
                continue
            billed += cents
        if billed and r.random() < 0.7:
            paid = Decimal(-self._int(0, billed)).scaleb(-2)
            paid_at = dt.datetime.combine(self._days_ago(1, 20), _TEN)
            yield "ci_ft", (self._id("ft"), sa_id, "PS", paid, "Y", paid_at)
