"""QuickBooks Online OAuth2 tokens of a company: their health, and a refresh that never locks it out.

Intuit rotates the refresh token on every refresh and the old one stops working, so a refresh is
done only while holding the company's connection row (base.connections.locked_connection): a
second run (another thread, process or host) waits, then reads the token the first one stored
and uses it instead of refreshing with the one that just died. The new tokens are committed in
the same transaction that held the lock.

Token expiry is kept beside the tokens (in the encrypted secrets) with a fingerprint of the refresh
token it belongs to: when an operator pastes a new refresh token, the old expiry no longer applies.
"""
import hashlib
import threading
from datetime import datetime, timedelta, timezone

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from requests import RequestException

from ..base import SourceError
from ..base.connections import locked_connection, read_secrets, write_secrets

ACCESS, REFRESH, META = "qbo_access_token", "qbo_refresh_token", "qbo_token_meta"
HEALTH_STATES = ("connected", "missing_tokens", "missing_refresh_token", "refresh_expired", "refresh_expiring")
EARLY = timedelta(seconds=120)  # refresh an access token this long before it expires


class QboAuthError(SourceError):
    """The company cannot get an access token: re-authorise it (the message says why)."""


def fingerprint(refresh_token):
    return hashlib.sha256((refresh_token or "").encode()).hexdigest()[:16]


def token_meta(secrets):
    """The stored expiry facts, when they belong to the stored refresh token; else {}."""
    meta = secrets.get(META) or {}
    return meta if meta.get("for") == fingerprint(secrets.get(REFRESH)) else {}


def health(secrets, expiring_days, now=None):
    """(state, refresh expiry or None): the company's token health, from its stored secrets."""
    now = now or _now()
    if not secrets.get(ACCESS) and not secrets.get(REFRESH):
        return "missing_tokens", None
    if not secrets.get(REFRESH):
        return "missing_refresh_token", None
    expires = _time(token_meta(secrets).get("refresh_expires_at"))
    if expires is not None and expires <= now:
        return "refresh_expired", expires
    if expires is not None and expires - now <= timedelta(days=expiring_days):
        return "refresh_expiring", expires
    return "connected", expires


class TokenKeeper:
    """The access token of one company for one run, shared by its threads; refreshed under the row lock."""

    def __init__(self, connection_id, label, token_url, client_id, client_secret, timeout=30.0):
        self.connection_id, self.label = connection_id, label
        self.token_url, self.timeout = token_url, timeout
        self.client_id, self.client_secret = client_id, client_secret
        self._access, self._expires, self._lock = None, None, threading.Lock()

    def access_token(self):
        """A current access token: the one in hand, the one stored, or a new one."""
        with self._lock:
            if self._access and self._expires and self._expires - EARLY > _now():
                return self._access
            return self._renew(stale=None)

    def renewed(self, stale):
        """After a 401 with `stale`: a new access token (once, whichever thread asks first)."""
        with self._lock:
            if self._access and self._access != stale:
                return self._access
            return self._renew(stale=stale)

    def _renew(self, stale):
        with locked_connection(self.connection_id) as conn:
            secrets = read_secrets(conn)
            meta = token_meta(secrets)
            expires = _time(meta.get("access_expires_at"))
            stored = secrets.get(ACCESS)
            # Another run refreshed meanwhile (or the stored token is simply still good): use it.
            if stored and stored != stale and (expires is None or expires - EARLY > _now()):
                self._access, self._expires = stored, expires or _now() + timedelta(minutes=5)
                return stored
            if not secrets.get(REFRESH):
                raise QboAuthError(f"{self.label} has no QuickBooks refresh token: re-authorise the company")
            token = self._refresh(secrets[REFRESH])
            write_secrets(conn, self._stored(token))
        self._access = token["access_token"]
        self._expires = _now() + timedelta(seconds=int(token.get("expires_in") or 3600))
        return self._access

    def _refresh(self, refresh_token):
        session = OAuth2Session(self.client_id, self.client_secret, token_endpoint_auth_method="client_secret_basic")
        session.trust_env = False
        try:
            return session.refresh_token(self.token_url, refresh_token=refresh_token, timeout=self.timeout)
        except OAuthError as exc:
            if exc.error == "invalid_grant":
                raise QboAuthError(f"QuickBooks refused {self.label}'s refresh token (invalid_grant: expired or "
                                   "revoked): re-authorise the company") from None
            raise QboAuthError(f"QuickBooks refused the token refresh of {self.label}: {exc.error}") from None
        except (RequestException, ValueError) as exc:
            raise SourceError(f"QuickBooks' token endpoint did not answer for {self.label}: {exc}") from None
        finally:
            session.close()

    @staticmethod
    def _stored(token):
        now = _now()
        refresh = token.get("refresh_token")
        meta = {"for": fingerprint(refresh), "refreshed_at": now.isoformat(),
                "access_expires_at": (now + timedelta(seconds=int(token.get("expires_in") or 3600))).isoformat()}
        if token.get("x_refresh_token_expires_in"):
            meta["refresh_expires_at"] = (now + timedelta(seconds=int(token["x_refresh_token_expires_in"]))).isoformat()
        return {ACCESS: token["access_token"], REFRESH: refresh, META: meta}


def _now():
    return datetime.now(timezone.utc)


def _time(value):
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
