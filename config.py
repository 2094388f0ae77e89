"""Configuration read from the environment (and `.env`); see `.env.example`."""
import os
import secrets
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
load_dotenv(BASE_DIR / ".env")


def _bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _float(name, default):
    return float(os.environ.get(name, default))


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY") or secrets.token_hex(32)
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'syncdeck.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # Seconds a SQLite writer waits for the lock before "database is locked".
    SQLITE_BUSY_TIMEOUT = _float("SQLITE_BUSY_TIMEOUT", 30)

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    # Largest file accepted as a job parameter; a request may carry a little more. A year of a busy
    # account in CAMT.053 (100,000 entries) is 45 MB.
    UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", 64 * 1024 * 1024))
    MAX_CONTENT_LENGTH = UPLOAD_MAX_BYTES + 1024 * 1024
    # Fernet key(s) encrypting connection secrets; empty: derived from SECRET_KEY (set one in production).
    CONNECTIONS_KEY = os.environ.get("CONNECTIONS_KEY", "")

    # Failed-login throttling: this many failures per user or address ...
    LOGIN_MAX_FAILURES = int(os.environ.get("LOGIN_MAX_FAILURES", 5))
    # ... within this many seconds blocks further attempts for that window.
    LOGIN_FAILURE_WINDOW = int(os.environ.get("LOGIN_FAILURE_WINDOW", 900))

    # Runs engine: where it runs and how fast it notices things.
    SCHEDULER_ENABLED = _bool("SCHEDULER_ENABLED", True)
    EXECUTOR_ENABLED = _bool("EXECUTOR_ENABLED", True)
    EXECUTOR_THREADS = int(os.environ.get("EXECUTOR_THREADS", 4))
    EXECUTOR_POLL_SECONDS = _float("EXECUTOR_POLL_SECONDS", 0.5)
    HEARTBEAT_SECONDS = _float("HEARTBEAT_SECONDS", 2)
    # A lock (and its run) whose heartbeat is older than this is taken over.
    LOCK_STALE_SECONDS = _float("LOCK_STALE_SECONDS", 60)
    SCHEDULER_RECONCILE_SECONDS = _float("SCHEDULER_RECONCILE_SECONDS", 3)
    # Extra modules whose @job functions are registered (tests, plugins).
    EXTRA_JOB_MODULES = [m for m in os.environ.get("EXTRA_JOB_MODULES", "").split(",") if m]
    # Connector packages to enable; empty: app.connectors.ENABLED_CONNECTORS. Each connector's own
    # variables (UISP_BASE_URL, BILLING_DB_URL, …) are declared in its package (Connector.config).
    ENABLED_CONNECTORS = [c for c in os.environ.get("ENABLED_CONNECTORS", "").split(",") if c]

    METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

    SMTP_HOST = os.environ.get("SMTP_HOST", "")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", 25))
    SMTP_USER = os.environ.get("SMTP_USER", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SMTP_STARTTLS = _bool("SMTP_STARTTLS", False)
    MAIL_FROM = os.environ.get("MAIL_FROM", "syncdeck@localhost")
    NOTIFY_TIMEOUT_SECONDS = _float("NOTIFY_TIMEOUT_SECONDS", 10)
    # Base URL used in links inside notifications.
    PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000")


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    SCHEDULER_ENABLED = False
    EXECUTOR_ENABLED = False
    HEARTBEAT_SECONDS = 0.2
    EXECUTOR_POLL_SECONDS = 0.05
    LOCK_STALE_SECONDS = 3
    SCHEDULER_RECONCILE_SECONDS = 0.5
    EXTRA_JOB_MODULES = ["tests.jobs"]
    METRICS_TOKEN = "test-metrics-token"
