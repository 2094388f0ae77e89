"""What the fake CRM holds (entities, issued tokens), the faults in force with their counters, and the
truth about what was created and asked. Every method is called with State.lock held."""
import itertools
import secrets
import threading
import time
from collections import Counter, defaultdict

ENTITIES = ("contacts", "product-categories", "products", "invoices", "operating-incomes", "deals")
# The natural keys that judge duplicates in the truth: a value created twice is a double create.
NATURAL_KEYS = {"contacts": ("mobile", "externalId"), "product-categories": ("title",), "products": ("code",),
                "invoices": ("number",), "operating-incomes": ("externalId",), "deals": ("invoiceId",)}
# The fields a test names a write by, in the reject and drop_after_create faults.
WRITE_KEYS = {"contacts": ("externalId", "mobile"), "product-categories": ("externalId", "title"),
              "products": ("externalId", "code"), "invoices": ("externalId", "number"),
              "operating-incomes": ("externalId",), "deals": ("externalId",)}
REQUEST_KINDS = ("login", "get", "post", "put", "throttled")
TOKEN_SECONDS = 3600


class State:
    """The fake's whole state; credentials are what login accepts, startup_faults what reset restores."""

    def __init__(self, credentials, startup_faults=None):
        self.lock = threading.Lock()
        self.credentials = {k: str(v) for k, v in credentials.items()}
        self.startup_faults = dict(startup_faults or {})
        self.reset()

    def reset(self):
        self.store = {entity: {} for entity in ENTITIES}
        # (entity, field, value as text) -> ids: finds by a field in O(1), not a scan of 100,000 objects
        self.index = defaultdict(set)
        self.ids = {entity: itertools.count(1) for entity in ENTITIES}
        self.creates = Counter()
        self.created_keys = {entity: Counter() for entity in ENTITIES}
        self.tokens = {}
        self.requests = dict.fromkeys(REQUEST_KINDS, 0)
        self.set_faults(self.startup_faults)

    def set_faults(self, faults):
        """Replace the faults; the throttle and write counters start again from zero."""
        self.faults, self.api_requests, self.writes = dict(faults), 0, 0

    # ------------------------------------------------------------------ tokens
    def login(self, body):
        """A new bearer token when body carries the right credentials, else None."""
        for field, expected in self.credentials.items():
            if body.get(field) is None or str(body[field]) != expected:
                return None
        token = secrets.token_hex(20)
        self.tokens[token] = time.monotonic() + TOKEN_SECONDS
        return token

    def authorized(self, header):
        scheme, _, token = (header or "").partition(" ")
        expires = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        return expires is not None and time.monotonic() < expires

    def expire_tokens(self):
        self.tokens.clear()

    # ------------------------------------------------------------------ request faults
    def latency(self):
        """Seconds every /api/* request waits (the caller sleeps without the lock, so requests overlap)."""
        return max(0.0, float(self.faults.get("latency_ms") or 0)) / 1000

    def admit(self, kind):
        """Count an /api/* request; False when the throttle refuses it (every N-th since the faults call)."""
        self.requests[kind] = self.requests.get(kind, 0) + 1
        self.api_requests += 1
        every = self.faults.get("throttle_every")
        if every and self.api_requests % int(every) == 0:
            self.requests["throttled"] += 1
            return False
        return True

    def retry_after(self):
        """The Retry-After header: whole seconds as an integer ("1"), a fraction as it is ("0.05")."""
        seconds = float(self.faults.get("retry_after", 1))
        return str(int(seconds)) if seconds.is_integer() else str(seconds)

    # ------------------------------------------------------------------ write faults
    def write_fails(self):
        """Count an entity write; True for the fail_from-th and later ones (only fail_count of them when set)."""
        self.writes += 1
        first, count = self.faults.get("fail_from"), self.faults.get("fail_count")
        if not first or self.writes < int(first):
            return False
        return count is None or self.writes < int(first) + int(count)

    def rejected(self, entity, obj):
        """The value that names this write in the reject fault, or None."""
        return self._named(entity, obj, (self.faults.get("reject") or {}).get(entity))

    def dropped(self, entity, obj):
        return self._named(entity, obj, self.faults.get("drop_after_create")) is not None

    @staticmethod
    def _named(entity, obj, listed):
        listed = {str(value) for value in listed or ()}
        values = (obj.get(field) for field in WRITE_KEYS[entity])
        return next((v for v in values if v is not None and str(v) in listed), None)

    # ------------------------------------------------------------------ entities
    def create(self, entity, obj):
        """Store obj under the entity's next id; remember its natural keys, which judge duplicates."""
        obj_id = next(self.ids[entity])
        stored = {"id": obj_id, **{k: v for k, v in obj.items() if k != "id"}}
        self.store[entity][obj_id] = stored
        self._index(entity, stored, self.index_add)
        self.creates[entity] += 1
        for field in NATURAL_KEYS[entity]:
            if stored.get(field) is not None:
                self.created_keys[entity][(field, _hashable(stored[field]))] += 1
        return stored

    def replace(self, entity, obj_id, obj):
        """Store obj as the new content of obj_id (an update)."""
        self._index(entity, self.store[entity][obj_id], self.index_discard)
        self.store[entity][obj_id] = obj
        self._index(entity, obj, self.index_add)
        return obj

    def __getitem__(self, entity):
        return self.store[entity]

    def first(self, entity, field, value):
        """The first stored object whose field equals value, or None."""
        found = self.find(entity, {field: str(value)})
        return found[0] if found else None

    def find(self, entity, filters):
        """The stored objects whose fields equal every filter (query values are text, so compare as text)."""
        if not filters:
            return list(self.store[entity].values())
        (field, value), *rest = filters.items()
        objects = (self.store[entity][i] for i in sorted(self.index.get((entity, field, value), ())))
        return [obj for obj in objects if all(obj.get(f) is not None and str(obj[f]) == v for f, v in rest)]

    def _index(self, entity, obj, change):
        for field, value in obj.items():
            if value is not None and not isinstance(value, (dict, list)):
                change((entity, field, str(value)), obj["id"])

    def index_add(self, key, obj_id):
        self.index[key].add(obj_id)

    def index_discard(self, key, obj_id):
        self.index[key].discard(obj_id)

    def truth(self):
        duplicates = {entity: sorted((value for (_f, value), n in keys.items() if n > 1), key=str)
                      for entity, keys in self.created_keys.items()}
        return {"counts": {entity: len(objs) for entity, objs in self.store.items()},
                "creates": {entity: self.creates[entity] for entity in ENTITIES},
                "duplicates": duplicates, "requests": dict(self.requests)}


def _hashable(value):
    """A natural key as a Counter key (a client may send any JSON there, even a list)."""
    return value if isinstance(value, (str, int, float, bool)) else repr(value)
