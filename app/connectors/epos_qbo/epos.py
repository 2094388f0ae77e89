"""A client for the EPOS Now API (v4): HTTP Basic with a company's API key and secret, transactions by
local date window, 200 a page. GETs are retried on 429/5xx and lost connections (urllib3)."""
from decimal import Decimal

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..base import SourceError
from ..base.http import SessionClient, root_cause

PAGE_SIZE = 200  # EPOS Now's fixed page size: a shorter page is the last
STATUS_VOID = 2


class EposError(SourceError):
    """EPOS failed a call or answered something unusable."""


class EposClient(SessionClient):
    """One company's EPOS Now account."""

    def __init__(self, base_url, api_key, api_secret, *, timeout=30.0, retries=4, backoff=0.3):
        if not base_url:
            raise EposError("EPOS is not configured: set EPOS_BASE_URL")
        if not api_key or not api_secret:
            raise EposError("The company has no EPOS API key and secret: add them under Advanced settings")
        self.base_url = base_url.rstrip("/")
        self.timeout = (min(5.0, timeout), timeout)
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.auth = (api_key, api_secret)
        retry = Retry(total=retries, backoff_factor=backoff, status_forcelist=(429, 500, 502, 503, 504),
                      allowed_methods=frozenset({"GET"}), respect_retry_after_header=True, raise_on_status=False)
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    def transactions(self, start, end):
        """Every transaction rung up in [start, end) (naive local datetimes), page after page."""
        page = 1
        while True:
            rows = self._page(start, end, page)
            yield from rows
            if len(rows) < PAGE_SIZE:
                return
            page += 1

    def _page(self, start, end, page):
        params = {"startDate": start.isoformat(timespec="seconds"), "endDate": end.isoformat(timespec="seconds"),
                  "page": page}
        path = "/api/v4/Transaction/GetByDate"
        try:
            response = self.session.get(self.base_url + path, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise EposError(f"EPOS did not answer {path} page {page}: {root_cause(exc)}") from None
        if response.status_code == 401:
            raise EposError("EPOS refused the company's API key and secret (401): check them under Advanced settings")
        if response.status_code != 200:
            raise EposError(f"EPOS answered {path} page {page} with {response.status_code}: {_message(response)}")
        try:
            rows = response.json()
        except ValueError:
            raise EposError(f"EPOS sent malformed JSON for {path} page {page}: {response.text[:80]!r}") from None
        if not isinstance(rows, list):
            raise EposError(f"EPOS sent {type(rows).__name__} for {path} page {page}, not a list of transactions")
        return rows


def money(value):
    """An EPOS amount (a JSON number) as exact cents."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _message(response):
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason
    return str(body.get("Message") if isinstance(body, dict) else body)[:200]
