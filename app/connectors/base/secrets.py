"""Encrypt connection secrets with Fernet, keyed by CONNECTIONS_KEY (or a key derived from SECRET_KEY).

CONNECTIONS_KEY holds one or more Fernet keys separated by commas: the first encrypts, every one
decrypts, so a key is rotated by putting the new one first and keeping the old one until
reencrypt_all() has rewritten every connection. When it is empty the key is derived from
SECRET_KEY with HKDF-SHA256: changing SECRET_KEY then makes every stored secret unreadable,
so production should set CONNECTIONS_KEY.
"""
import base64
import binascii
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

# Fixed, so the same SECRET_KEY always derives the same key; changing them invalidates stored secrets.
_HKDF_SALT = b"syncdeck-connections"
_HKDF_INFO = b"syncdeck connections fernet key v1"

GENERATE_HINT = ("generate one with: python -c \"from cryptography.fernet import Fernet; "
                 "print(Fernet.generate_key().decode())\"")


class SecretsError(Exception):
    """Secrets cannot be encrypted or decrypted (bad or missing key); the message never holds a secret."""


def derive_key(secret_key) -> bytes:
    """A Fernet key derived from SECRET_KEY with HKDF-SHA256."""
    if not secret_key:
        raise SecretsError(f"Neither CONNECTIONS_KEY nor SECRET_KEY is set; set CONNECTIONS_KEY ({GENERATE_HINT}).")
    raw = secret_key.encode() if isinstance(secret_key, str) else bytes(secret_key)
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(raw))


def configured_keys():
    """The Fernet keys in force, the encrypting one first."""
    raw = current_app.config.get("CONNECTIONS_KEY") or ""
    keys = [part.strip() for part in str(raw).split(",") if part.strip()]
    return keys or [derive_key(current_app.config.get("SECRET_KEY"))]


def fernet() -> MultiFernet:
    """The MultiFernet of the configured keys; SecretsError naming the bad key's position."""
    fernets = []
    for position, key in enumerate(configured_keys(), start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError, binascii.Error):
            raise SecretsError(f"CONNECTIONS_KEY key #{position} is not a Fernet key (32 url-safe base64 "
                               f"bytes); {GENERATE_HINT}") from None
    return MultiFernet(fernets)


def encrypt_json(values: dict) -> str:
    """The Fernet token of values as JSON."""
    return fernet().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def decrypt_json(token, label) -> dict:
    """The dict a token holds ({} for none); SecretsError naming `label` when no key decrypts it."""
    if not token:
        return {}
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken:
        raise SecretsError(
            f"The stored secrets of connection {label} cannot be decrypted with CONNECTIONS_KEY: it is not "
            "the key they were written with (was SECRET_KEY or CONNECTIONS_KEY changed?). Put the old key "
            "back after a comma in CONNECTIONS_KEY, or enter the secrets again.") from None


def rotate_token(token) -> str:
    """The token re-encrypted with the first key (MultiFernet.rotate), so older keys can be retired."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretsError("A stored secret cannot be decrypted with any CONNECTIONS_KEY key") from None
