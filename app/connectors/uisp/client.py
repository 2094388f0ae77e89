"""A small client for the UISP CRM API v1.0: one pooled session, timeouts, retries, paging."""
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..base import SourceError, fetch_pages
from ..base.http import SessionClient, api_message as _api_message, root_cause as _root_cause

RETRY_STATUSES = (429, 500, 502, 503, 504)


class UispError(SourceError):
    """UISP failed or refused a call; carries the HTTP status when there was one."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class UispClient(SessionClient):
    """Talks to `<base_url>` (ending in /crm/api/v1.0) with the X-Auth-App-Key header."""

    def __init__(self, base_url, app_key, *, timeout=30.0, retries=4, backoff=0.5, page_size=500, workers=4):
        if not base_url:
            raise UispError("UISP is not configured: set UISP_BASE_URL (…/crm/api/v1.0) and UISP_APP_KEY")
        self.base_url = base_url.rstrip("/")
        self.timeout = (min(5.0, timeout), timeout)
        self.page_size = page_size
        self.workers = workers
        self.session = requests.Session()
        self.session.headers.update({"X-Auth-App-Key": app_key or "", "Accept": "application/json"})
        # urllib3 retries idempotent calls on 429/5xx and connection errors, honouring Retry-After;
        # the last answer comes back to us (raise_on_status=False) so its message can be shown.
        retry = Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff,
                      status_forcelist=RETRY_STATUSES, respect_retry_after_header=True, raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=max(workers, 4))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    @classmethod
    def from_config(cls, config, workers=None):
        """The client the configuration describes; `workers` sizes its connection pool (default UISP_CONCURRENCY)."""
        return cls(config.get("UISP_BASE_URL", ""), config.get("UISP_APP_KEY", ""),
                   timeout=config.get("UISP_TIMEOUT", 30.0), retries=config.get("UISP_RETRIES", 4),
                   backoff=config.get("UISP_RETRY_BACKOFF", 0.5), page_size=config.get("UISP_PAGE_SIZE", 500),
                   workers=workers or config.get("UISP_CONCURRENCY", 4))

    # ------------------------------------------------------------------ calls
    def get(self, path, **params):
        """GET a path and return its decoded JSON."""
        return self._call("GET", path, params=params)

    def patch(self, path, body=None):
        return self._call("PATCH", path, json=body if body is not None else {})

    def post(self, path, body):
        """POST a JSON body; never resent by the transport (a lost answer must be looked up, not repeated)."""
        return self._call("POST", path, json=body)

    def delete(self, path):
        return self._call("DELETE", path)

    def page(self, path, offset, limit, **params):
        """One page of a collection (a bare JSON array)."""
        rows = self.get(path, limit=limit, offset=offset, **params)
        if not isinstance(rows, list):
            raise UispError(f"UISP answered GET {path} with {type(rows).__name__}, expected a list")
        return rows

    def pages(self, path, **params):
        """Every page of a collection, one request at a time, ordered by offset."""
        offset = 0
        while True:
            rows = self.page(path, offset, self.page_size, **params)
            yield rows
            if len(rows) < self.page_size:
                return
            offset += self.page_size

    def concurrent_pages(self, path, **params):
        """Every page of a collection with up to `workers` requests in flight: (offset, rows) as they arrive."""
        return fetch_pages(lambda offset, limit: self.page(path, offset, limit, **params),
                           self.page_size, self.workers)

    def _call(self, method, path, **kwargs):
        where = f"{method} {path}"
        try:
            response = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise UispError(f"UISP did not answer {where} within {self.timeout[1]:g} s") from None
        except requests.RequestException as exc:
            raise UispError(f"UISP unreachable for {where}: {_root_cause(exc)}") from None
        if response.status_code >= 400:
            raise UispError(f"UISP answered {where} with {response.status_code}: {_api_message(response)}",
                            response.status_code)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise UispError(f"UISP sent malformed JSON for {where} (offset {kwargs.get('params', {}).get('offset', '-')}"
                            f"): {response.text[:80]!r}") from None

