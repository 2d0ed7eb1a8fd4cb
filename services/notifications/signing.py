"""Signed webhook deliveries, in the style of Stripe and GitHub.

Each request carries `CXC-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]`, where each v1 is
HMAC-SHA256(secret, f"{t}.{body}") in lowercase hex: one per secret in force (two during a
rotation's overlap). docs/webhooks.md tells receivers how to check it; a test runs the
snippet printed there against real deliveries.

Secrets are kept encrypted at rest (Fernet keys WEBHOOKS_SECRET_KEYS, the first encrypts;
locally a key file made once next to the token keys) because signing needs them in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

SIGNATURE_HEADER = "CXC-Signature"
EVENT_ID_HEADER = "CXC-Event-Id"
EVENT_TYPE_HEADER = "CXC-Event-Type"
TIMESTAMP_HEADER = "CXC-Timestamp"
DELIVERY_HEADER = "CXC-Delivery-Id"
ATTEMPT_HEADER = "CXC-Delivery-Attempt"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
KEYS_FILE = "webhook-secret-keys.txt"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets_in_force: Iterable[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={signature(secret, timestamp, body)}"
                                        for secret in secrets_in_force)])


class SecretBox:
    """Endpoint secrets encrypted at rest."""

    def __init__(self, keys: str) -> None:
        found = [key.strip() for key in keys.split(",") if key.strip()]
        if not found:
            raise RuntimeError("WEBHOOKS_SECRET_KEYS is empty: no key to encrypt webhook secrets with")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in found])

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise RuntimeError("a webhook secret cannot be decrypted with the configured keys") from exc


def local_keys(directory: str | Path) -> str:
    """The key file made once for local use (the first process to link it wins)."""
    path = Path(directory) / KEYS_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{KEYS_FILE}.{os.getpid()}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode())
        try:
            os.link(partial, path)
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    return path.read_text().strip()


def secret_box(settings: dict) -> SecretBox:
    return SecretBox(settings.get("secret_keys") or local_keys(settings["keys_dir"]))
