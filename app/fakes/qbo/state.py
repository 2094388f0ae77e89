"""What the QBO fake holds: realms (receipts, tokens, remembered requestid answers, rate windows, counters),
its clock, and the faults in force. Every method is called with State.lock held.

Token lifetimes run on the fake clock (real time + an offset a test moves); the rate windows on real
monotonic time, as a real gateway's do.
"""
import itertools
import math
import secrets
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import NamedTuple

from .wire import iso

REALM_BASE = 9_130_000_000_000_000
ACCESS_SECONDS, REFRESH_SECONDS = 3600, 8_726_400
WINDOW_SECONDS = 60.0
ENTITY_TYPES = ("SalesReceipt", "RefundReceipt")
COUNTS = ("requests", "throttled", "refreshes", "batches", "duplicates_refused", "faulted")


def realm_id(number):
    """Realm n's 16-digit id: 9130000000000001, 9130000000000002 ..."""
    return str(REALM_BASE + number)


@dataclass(frozen=True)
class Limits:
    """The per-realm limits (QBO's real ones by default) and the startup latency."""
    rate_per_minute: int = 500
    concurrency: int = 10
    batch_per_minute: int = 40
    max_batch: int = 30
    latency_ms: float = 0


class Plan(NamedTuple):
    """What the faults do to one admitted request: wait `delay` s, then `action` (None, "fail", "malformed",
    "accept_then_fail") with `status` for a fail."""
    delay: float
    action: object
    status: int


class Realm:
    """One QBO company. in_flight survives reset: requests being served at that moment still end."""

    def __init__(self, realm, now):
        self.id, self.in_flight = realm, 0
        self.reset(now)

    def reset(self, now):
        self.entities = {t: {} for t in ENTITY_TYPES}       # Id -> the stored receipt
        self.doc_numbers = {t: {} for t in ENTITY_TYPES}    # DocNumber -> Id
        self.ids = itertools.count(1)
        self.replies = {}                                   # requestid -> (status, body) first answered
        self.generation = 0
        self.access = {f"at-{self.id}-0": now + ACCESS_SECONDS}  # token -> expiry, on the fake clock
        self.latest_access = f"at-{self.id}-0"
        self.refresh, self.refresh_expires = f"rt-{self.id}-0", now + REFRESH_SECONDS
        self.window, self.batch_window = deque(), deque()   # admission times (monotonic) of the last 60 s
        self.counts = Counter(dict.fromkeys(COUNTS, 0))
        self.max_in_flight = self.in_flight

    def issue(self, now):
        """Rotate: a new access and refresh token; the old refresh token dies now, old access tokens expire."""
        self.generation += 1
        self.access = {t: exp for t, exp in self.access.items() if exp > now}
        salt = secrets.token_hex(4)
        self.latest_access = f"at-{self.id}-{self.generation}-{salt}"
        self.access[self.latest_access] = now + ACCESS_SECONDS
        self.refresh, self.refresh_expires = f"rt-{self.id}-{self.generation}-{salt}", now + REFRESH_SECONDS

    def revoke(self):
        self.access.clear()
        self.latest_access = self.refresh = None

    def tokens(self):
        return {"realm": self.id, "access_token": self.latest_access, "refresh_token": self.refresh}

    def store(self, entity, obj):
        """Give obj the realm's next Id and keep it; the stored object."""
        obj["Id"] = str(next(self.ids))
        self.entities[entity][obj["Id"]] = obj
        if obj.get("DocNumber"):
            self.doc_numbers[entity][obj["DocNumber"]] = obj["Id"]
        return obj


class State:
    """The fake's whole state: the OAuth client it accepts, its realms, limits, clock and faults."""

    def __init__(self, client_id, client_secret, realms, limits):
        self.lock = threading.Lock()
        self.client, self.limits = (client_id, client_secret), limits
        self.offset, self.realms = 0.0, {}
        self.ensure(realms)
        self.set_faults({})

    # ------------------------------------------------------------------ clock, realms, reset
    def now(self):
        return time.time() + self.offset

    def now_iso(self):
        return iso(self.now())

    def advance(self, seconds):
        self.offset += seconds

    def ensure(self, count):
        for number in range(1, count + 1):
            if realm_id(number) not in self.realms:
                self.realms[realm_id(number)] = Realm(realm_id(number), self.now())

    def reset(self):
        """Every realm (those added since stay) back to its start; clock, faults and counters too."""
        self.offset = 0.0
        for realm in self.realms.values():
            realm.reset(self.now())
        self.set_faults({})

    def listing(self):
        return [realm.tokens() for _, realm in sorted(self.realms.items())]

    # ------------------------------------------------------------------ OAuth
    def client_ok(self, client_id, client_secret):
        return (client_id, client_secret) == self.client

    def _by_refresh(self, token):
        return next((r for r in self.realms.values() if token and r.refresh == token), None)

    def refresh(self, token):
        """The realm whose live refresh token this is, its tokens rotated; None for invalid_grant."""
        realm = self._by_refresh(token)
        if realm is None or self.now() >= realm.refresh_expires:
            return None
        realm.issue(self.now())
        realm.counts["refreshes"] += 1
        return realm

    def revoke_token(self, token):
        """Revoke the realm a refresh or access token belongs to (an unknown token changes nothing)."""
        realm = self._by_refresh(token) or next((r for r in self.realms.values() if token in r.access), None)
        if realm is not None:
            realm.revoke()

    def authorized(self, realm, token):
        expires = realm.access.get(token)
        return expires is not None and self.now() < expires

    # ------------------------------------------------------------------ limits
    def admit(self, realm, is_batch):
        """Count the request and take a slot and a place in the windows; or, when a limit refuses it, the
        Retry-After seconds (it then counts as throttled, not against the windows)."""
        realm.counts["requests"] += 1
        now = time.monotonic()
        retry = 1 if realm.in_flight >= self.limits.concurrency else 0
        windows = [(realm.window, self.limits.rate_per_minute)]
        if is_batch:
            windows.append((realm.batch_window, self.limits.batch_per_minute))
        for window, limit in windows:
            while window and window[0] <= now - WINDOW_SECONDS:
                window.popleft()
            if len(window) >= limit:
                frees = window[len(window) - limit] + WINDOW_SECONDS if limit > 0 else now + WINDOW_SECONDS
                retry = max(retry, math.ceil(frees - now), 1)
        if retry:
            realm.counts["throttled"] += 1
            return retry
        for window, _ in windows:
            window.append(now)
        realm.counts["batches"] += is_batch
        realm.in_flight += 1
        realm.max_in_flight = max(realm.max_in_flight, realm.in_flight)
        return None

    def release(self, realm):
        realm.in_flight = max(0, realm.in_flight - 1)

    def limits_view(self):
        return {**asdict(self.limits), "latency_ms_in_force": self.faults["latency_ms"],
                "window_seconds": WINDOW_SECONDS, "access_token_seconds": ACCESS_SECONDS,
                "refresh_token_seconds": REFRESH_SECONDS}

    # ------------------------------------------------------------------ faults
    def set_faults(self, faults):
        """Replace the faults in force; latency_ms left out means the startup --latency-ms."""
        self.faults = {"realm": None, "latency_ms": self.limits.latency_ms, "fail_next": 0, "status": 500,
                       "hang_next": 0, "hang_seconds": 0, "malformed_next": 0, "accept_then_fail_next": 0,
                       **{k: v for k, v in faults.items() if v is not None}}
        self.faults["reject_doc"] = sorted({str(d) for d in self.faults.get("reject_doc") or ()})

    def _applies(self, realm):
        return self.faults["realm"] in (None, realm.id)

    def plan(self, realm, is_write):
        """Take this request's share of the faults: latency and a hang add up; then a fail, else a malformed
        answer, else (creates and batches only) an accept-then-fail."""
        if not self._applies(realm):
            return Plan(0.0, None, 0)
        delay = float(self.faults["latency_ms"]) / 1000
        if self._take("hang_next"):
            delay += float(self.faults["hang_seconds"])
        action = next((kind for name, kind in (("fail_next", "fail"), ("malformed_next", "malformed"))
                       if self._take(name)), None)
        if action is None and is_write and self._take("accept_then_fail_next"):
            action = "accept_then_fail"
        realm.counts["faulted"] += action is not None
        return Plan(delay, action, int(self.faults["status"]))

    def _take(self, name):
        if self.faults[name] > 0:
            self.faults[name] -= 1
            return True
        return False

    def rejected(self, realm, doc_number):
        return self._applies(realm) and doc_number is not None and str(doc_number) in self.faults["reject_doc"]

    # ------------------------------------------------------------------ truth
    def truth(self, realm):
        receipts = sorted(({"Id": obj["Id"], "DocNumber": obj.get("DocNumber"), "TxnDate": obj.get("TxnDate"),
                            "TotalAmt": obj["TotalAmt"], "type": entity}
                           for entity, objs in realm.entities.items() for obj in objs.values()),
                          key=lambda r: int(r["Id"]))
        return {"receipts": receipts, **realm.counts, "max_in_flight": realm.max_in_flight,
                "in_flight": realm.in_flight}
