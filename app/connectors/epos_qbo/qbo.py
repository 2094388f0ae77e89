"""A client for the QuickBooks Online Accounting API v3 of one company (realm).

- Every write carries a `requestid`: Intuit answers a repeated request id with the first answer and
  creates nothing, so a write is resent (same id) after a 5xx, a 429 or a lost answer — never with
  a new id, which could create the receipt twice.
- 401 means the access token expired: the TokenKeeper gets a new one (once for all threads) and
  the call is made again.
- At most `concurrency` calls are in flight (QBO allows 10 per realm) and 429's Retry-After is
  waited out (urllib3).
- Errors come as {"Fault": {"Error": [{"Message", "Detail", "code"}], "type"}}; their text is kept.
"""
import threading

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..base import SourceError
from ..base.http import SessionClient, root_cause

MINOR_VERSION = 75
MAX_BATCH = 30          # operations per /batch request (Intuit's limit)
MAX_RESULTS = 1000      # rows per query page (Intuit's limit)
RETRY_STATUSES = (429, 500, 502, 503, 504)
DUPLICATE_DOC = "6140"  # "Duplicate Document Number Error"


class QboError(SourceError):
    """QuickBooks failed a call or could not be reached."""

    def __init__(self, message, status=None, code=""):
        super().__init__(message)
        self.status, self.code = status, code


class QboClient(SessionClient):
    """Calls `<api_url>/v3/company/<realm>/…` with the company's access token."""

    def __init__(self, api_url, realm, tokens, *, timeout=30.0, retries=5, backoff=0.5, concurrency=10):
        if not api_url:
            raise QboError("QuickBooks is not configured: set QBO_API_URL")
        if not realm:
            raise QboError("The company has no QuickBooks realm (company) id: add it under Advanced settings")
        self.base = f"{api_url.rstrip('/')}/v3/company/{realm}"
        self.tokens, self.timeout, self.resends = tokens, (min(5.0, timeout), timeout), retries
        self._slots = threading.BoundedSemaphore(concurrency)
        self.session = requests.Session()
        self.session.trust_env = False
        # POST is retried too: every write here carries a request id, which makes a resend harmless.
        retry = Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff,
                      status_forcelist=RETRY_STATUSES, allowed_methods=frozenset({"GET", "POST"}),
                      respect_retry_after_header=True, raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=max(concurrency, 2))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def batch(self, items, request_id):
        """Create up to 30 entities in one request: {bId: entity} and {bId: (code, message)} for refusals."""
        if len(items) > MAX_BATCH:
            raise ValueError(f"a QBO batch holds at most {MAX_BATCH} operations, not {len(items)}")
        body = {"BatchItemRequest": [{"bId": bid, "operation": "create", kind: entity} for bid, kind, entity in items]}
        answer = self._call("POST", "/batch", json=body, params={"requestid": request_id})
        created, refused = {}, {}
        for item in answer.get("BatchItemResponse") or []:
            bid = str(item.get("bId"))
            if "Fault" in item:
                refused[bid] = _fault_code_and_text(item["Fault"])
            else:
                created[bid] = next((v for k, v in item.items() if k != "bId" and isinstance(v, dict)), {})
        missing = {bid for bid, _, _ in items} - set(created) - set(refused)
        if missing:
            raise QboError(f"QuickBooks' batch answer left out {len(missing)} operation(s): {sorted(missing)[:5]}")
        return created, refused

    def query(self, statement):
        """Every row of a `select * from Entity where …` statement, page after page."""
        entity = statement.split()[3]
        start = 1
        while True:
            page = self._call("GET", "/query", params={
                "query": f"{statement} STARTPOSITION {start} MAXRESULTS {MAX_RESULTS}"}).get("QueryResponse") or {}
            rows = page.get(entity) or []
            yield from rows
            if len(rows) < MAX_RESULTS:
                return
            start += MAX_RESULTS

    def _call(self, method, path, **kwargs):
        kwargs.setdefault("params", {})["minorversion"] = MINOR_VERSION
        token = self.tokens.access_token()
        with self._slots:
            response = self._send(method, path, token, **kwargs)
            if response.status_code == 401:
                token = self.tokens.renewed(token)
                response = self._send(method, path, token, **kwargs)
            body = _json_or_none(response)
            for _ in range(self.resends):
                if response.status_code != 200 or body is not None:
                    break
                # A garbled 200: with a request id, asking again returns the first answer, never a second entity.
                response = self._send(method, path, token, **kwargs)
                body = _json_or_none(response)
        return _decoded(method, path, response, body)

    def _send(self, method, path, token, **kwargs):
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            return self.session.request(method, self.base + path, headers=headers, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise QboError(f"QuickBooks did not answer {method} {path}: {root_cause(exc)}") from None


def _json_or_none(response):
    """The decoded body, or None when it is not JSON (every QBO answer is a JSON object)."""
    try:
        return response.json()
    except ValueError:
        return None


def _decoded(method, path, response, body):
    where = f"{method} {path}"
    if body is None:
        raise QboError(f"QuickBooks sent malformed JSON for {where} ({response.status_code}): "
                       f"{response.text[:80]!r}", response.status_code)
    if response.status_code != 200:
        code, text = _fault_code_and_text((body or {}).get("Fault") if isinstance(body, dict) else None)
        raise QboError(f"QuickBooks answered {where} with {response.status_code}: {text}", response.status_code, code)
    return body


def _fault_code_and_text(fault):
    errors = (fault or {}).get("Error") or [{}]
    first = errors[0]
    text = "; ".join(f"{e.get('Message', '')} {e.get('Detail', '')}".strip() for e in errors) or "no detail"
    return str(first.get("code", "")), text[:1000]
