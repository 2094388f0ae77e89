"""A client for the Asanito-style CRM REST API: bearer login (again on 401), one pooled session shared
by the push threads, urllib3 retries honouring 429 Retry-After, and creates that are never sent
twice blindly: a create whose answer was lost is looked up by its externalId before it is resent."""
import threading

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..base import SourceError
from ..base.http import SessionClient, api_message, root_cause

# Refused before any work was done: safe to send again, even a create.
REFUSED_UNDONE = (429, 503)
RETRY_STATUSES = (429, 500, 502, 503, 504)
# The CRM refused this record's content: the record fails, the run goes on.
REJECTING = (400, 404, 409, 422)


class CrmError(SourceError):
    """The CRM failed a call, or could not be reached; carries the HTTP status when there was one."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class CrmRejected(CrmError):
    """The CRM refused the content of one call (a validation error): that record fails alone."""


class CrmUnknownOutcome(CrmError):
    """A create may or may not have been done (5xx, a dropped connection): look it up before resending."""


class _CreateSafeRetry(Retry):
    """urllib3's retries, except that a POST is resent only when the CRM refused it undone (429, 503).

    POST stays out of allowed_methods, so a POST whose answer was lost (read error) is not resent
    here either: the caller looks it up by externalId first.
    """

    def parse_retry_after(self, retry_after):
        # Whole seconds or an HTTP date per RFC 9110; a fraction of a second is taken as meant, not refused.
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return super().parse_retry_after(retry_after)

    def is_retry(self, method, status_code, has_retry_after=False):
        if method == "POST":
            return status_code in REFUSED_UNDONE and bool(self.total)
        return super().is_retry(method, status_code, has_retry_after)


class CrmClient(SessionClient):
    """Talks to `<base_url>/api/...` as one CRM user (mobile, password, customer id)."""

    def __init__(self, base_url, mobile, password, customer_id, *, timeout=30.0, retries=4, backoff=0.3,
                 workers=8):
        if not base_url:
            raise CrmError("The CRM is not configured: set CRM_BASE_URL, CRM_MOBILE, CRM_PASSWORD and CRM_CUSTOMER_ID")
        self.base_url = base_url.rstrip("/")
        self.credentials = {"mobile": mobile, "password": password, "customerId": customer_id}
        self.timeout = (min(5.0, timeout), timeout)
        self.resends = retries
        self._token, self._token_lock = None, threading.Lock()
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy/netrc lookups per request: they cost more than the call
        retry = _CreateSafeRetry(total=retries, connect=retries, read=retries, status=retries,
                                 backoff_factor=backoff, status_forcelist=RETRY_STATUSES,
                                 allowed_methods=frozenset({"GET", "PUT", "DELETE"}),
                                 respect_retry_after_header=True, raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=max(workers, 4))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    @classmethod
    def from_config(cls, config):
        return cls(config.get("CRM_BASE_URL", ""), config.get("CRM_MOBILE", ""), config.get("CRM_PASSWORD", ""),
                   config.get("CRM_CUSTOMER_ID", ""), timeout=config.get("CRM_TIMEOUT", 30.0),
                   retries=config.get("CRM_RETRIES", 4), workers=config.get("CRM_CONCURRENCY", 8))

    # ------------------------------------------------------------------ calls
    def find(self, path, **params):
        """The first object of GET path?params (a list), or None."""
        found = self.call("GET", path, params=params)
        return found[0] if found else None

    def get(self, path, **params):
        return self.call("GET", path, params=params)

    def put(self, path, body):
        return self.call("PUT", path, json=body)

    def post(self, path, body=None):
        return self.call("POST", path, json=body or {})

    def create(self, path, body):
        """POST a new object carrying body["externalId"]; after an unknown outcome, the object found by
        that externalId is the answer, and only when none is found is it sent again."""
        last = None
        for _ in range(self.resends + 1):
            try:
                return self.call("POST", path, json=body)
            except CrmUnknownOutcome as exc:
                last = exc
            found = self.find(path, externalId=body["externalId"])
            if found:
                return found
        raise last

    def call(self, method, path, **kwargs):
        """One call with the bearer token (logging in again once on a 401); the decoded JSON."""
        token = self._current_token()
        response = self._send(method, path, token, **kwargs)
        if response.status_code == 401:
            response = self._send(method, path, self._login(stale=token), **kwargs)
        return _decoded(method, path, response)

    # ------------------------------------------------------------------ internals
    def _send(self, method, path, token, **kwargs):
        try:
            return self.session.request(method, self.base_url + path, timeout=self.timeout,
                                        headers={"Authorization": f"Bearer {token}"}, **kwargs)
        except requests.RequestException as exc:
            error = CrmUnknownOutcome if method == "POST" else CrmError
            raise error(f"The CRM did not answer {method} {path}: {root_cause(exc)}") from None

    def _current_token(self):
        return self._token or self._login(stale=None)

    def _login(self, stale):
        """Log in, unless another thread already replaced the stale token meanwhile."""
        with self._token_lock:
            if self._token and self._token != stale:
                return self._token
            try:
                response = self.session.post(self.base_url + "/api/auth/login", json=self.credentials,
                                             timeout=self.timeout)
            except requests.RequestException as exc:
                raise CrmError(f"The CRM did not answer the login: {root_cause(exc)}") from None
            if response.status_code != 200:
                raise CrmError(f"The CRM refused the login ({response.status_code}): {api_message(response)}",
                               response.status_code)
            self._token = response.json()["access_token"]
            return self._token


def _decoded(method, path, response):
    where = f"{method} {path}"
    status = response.status_code
    if status in REJECTING:
        raise CrmRejected(f"The CRM refused {where} ({status}): {api_message(response)}", status)
    if status >= 500 and method == "POST":
        raise CrmUnknownOutcome(f"The CRM answered {where} with {status}: {api_message(response)}", status)
    if status >= 400:
        raise CrmError(f"The CRM answered {where} with {status}: {api_message(response)}", status)
    try:
        return response.json() if response.content else None
    except ValueError:
        raise CrmError(f"The CRM sent malformed JSON for {where}: {response.text[:80]!r}") from None
