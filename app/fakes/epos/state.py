"""What the EPOS Now fake holds: its companies and their transactions, the faults in force and the request
counts. Every method is called with State.lock held, except seed(): it is pure and may take a while, so it
runs before the lock is taken."""
import bisect
import threading
from collections import Counter
from operator import attrgetter

from .data import COMPLETE, VOID, ID_BLOCK, added_txn, company, seed_company

# A company's transactions are kept ordered by ORDER; a window is two bisects on WHEN.
WHEN, ORDER = attrgetter("when"), attrgetter("when", "id")


class State:
    """The fake's whole state; seeding says what a company's seeded transactions are made from."""

    def __init__(self, seeding, companies, latency_ms=0):
        self.lock = threading.Lock()
        self.seeding, self.latency_ms = seeding, latency_ms
        self.companies, self.seeded, self.by_api_key = {}, {}, {}
        self.txns, self.next_seq = {}, {}
        self.install(self.seed(companies))
        self.reset()

    # ------------------------------------------------------------------ companies
    def seed(self, count):
        """{number: seeded transactions} for the companies 1..count not seeded yet (call without the lock)."""
        return {n: tuple(seed_company(n, self.seeding)) for n in range(1, count + 1)
                if company(n).key not in self.seeded}

    def install(self, seeded):
        """Add the companies seed() made (another caller may have added them meanwhile: then keep those)."""
        for number, records in seeded.items():
            co = company(number)
            if co.key in self.seeded:
                continue
            self.companies[co.key], self.seeded[co.key], self.by_api_key[co.api_key] = co, records, co
            self._restart(co.key)

    def _restart(self, key):
        """The company's own copy of its seeded transactions; added ones take the ids after them."""
        self.txns[key] = list(self.seeded[key])
        self.next_seq[key] = len(self.seeded[key]) + 1

    def reset(self):
        """Every company back to its seeded transactions (companies added since stay), faults and counts cleared."""
        for key in self.companies:
            self._restart(key)
        self.requests = Counter()
        self.set_faults({})

    def listing(self):
        return [{"company": co.key, "name": co.name, "api_key": co.api_key, "api_secret": co.secret,
                 "timezone": str(self.seeding.timezone)} for co in sorted(self.companies.values())]

    def authenticate(self, authorization):
        """The company whose API key and secret these HTTP Basic credentials are, else None."""
        if authorization is None or authorization.type != "basic":
            return None
        co = self.by_api_key.get(authorization.username or "")
        return co.key if co and authorization.password == co.secret else None

    # ------------------------------------------------------------------ transactions
    def window(self, key, start, end):
        """The company's transactions with start <= DateTime < end (local texts), in (DateTime, Id) order."""
        records = self.txns[key]
        if start is None and end is None:
            return records
        low = bisect.bisect_left(records, start, key=WHEN) if start else 0
        high = bisect.bisect_left(records, end, key=WHEN) if end else len(records)
        return records[low:high]

    def add(self, key, rows):
        """Store the added transactions (rows already checked: when, cents, kind, status); their ids."""
        number, ids = self.companies[key].number, []
        for when, total, kind, status in rows:
            txn_id = number * ID_BLOCK + self.next_seq[key]
            self.next_seq[key] += 1
            bisect.insort(self.txns[key], added_txn(number, txn_id, when, total, kind, status), key=ORDER)
            ids.append(txn_id)
        return ids

    def truth(self, key, start, end):
        """The totals a correct sync of this window must arrive at, in cents."""
        counts = Counter()
        for txn in self.window(key, start, end):
            if txn.status == VOID:
                counts["voids"] += 1
                continue
            counts["count"] += 1
            if txn.status == COMPLETE:
                counts["sales" if txn.kind == "Sale" else "refunds"] += txn.total
        return counts

    # ------------------------------------------------------------------ faults
    def set_faults(self, faults):
        """Replace the faults in force; latency_ms left out means the startup --latency-ms."""
        self.faults = {"latency_ms": self.latency_ms, "fail_next": 0, "status": 503, "malformed_next": 0,
                       "company": None, **{k: v for k, v in faults.items() if v is not None}}

    def _applies(self, key):
        return self.faults["company"] in (None, key)

    def latency(self, key):
        """Seconds this company's /api/* request waits first (the caller sleeps without the lock)."""
        return float(self.faults["latency_ms"]) / 1000 if self._applies(key) else 0.0

    def take_fault(self, key):
        """Count the request; then "fail" (the next fail_next ones), "malformed" (the next malformed_next
        after those) or None."""
        self.requests[key] += 1
        if not self._applies(key):
            return None
        for name, kind in (("fail_next", "fail"), ("malformed_next", "malformed")):
            if self.faults[name] > 0:
                self.faults[name] -= 1
                return kind
        return None
