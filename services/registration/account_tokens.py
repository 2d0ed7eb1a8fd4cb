"""The links of account emails and the API keys of back-offices, as plain Python.

A link's token is `<request id>.<HMAC-SHA256(secret, purpose|account id|request id)>`: the
database keeps the request (who, why, until when, used or not) but no usable token, and a
token is good only for its own request, purpose and account. Whoever holds the secret
(registration, from configuration) can recompute it, which is how notifications gets it for
the email without it ever being stored or put on an event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from common.errors import ValidationFailed

VERIFY_EMAIL = "email_verification"
RESET_PASSWORD = "password_reset"  # noqa: S105 - a purpose, not a password
SIGNUP_EXISTING = "signup_existing"
INVITATION = "invitation"
PURPOSES = (VERIFY_EMAIL, RESET_PASSWORD, SIGNUP_EXISTING, INVITATION)

EVENT_OF_PURPOSE = {
    VERIFY_EMAIL: "email_verification_requested",
    RESET_PASSWORD: "password_reset_requested",
    SIGNUP_EXISTING: "signup_attempted_for_existing_account",
    INVITATION: "account_invited",
}
# The email to an owner whose address was used to sign up again offers a password reset,
# so its link sets a password like a reset link does; so does an invitation's, the first.
SETS_PASSWORD = (RESET_PASSWORD, SIGNUP_EXISTING, INVITATION)

SECRET_FILE = "account-token.secret"  # noqa: S105 - a file name
# The one message for every bad link: expired, used, tampered or unknown look alike.
BAD_LINK = "This link is not valid any more: ask for a new one."


def invalid_link() -> ValidationFailed:
    # A plain ValidationFailed: errors cross RPC by their registered class names.
    return ValidationFailed(BAD_LINK, {"token": [BAD_LINK]})


def _mac(secret: bytes, purpose: str, account_id: str, request_id: str) -> str:
    digest = hmac.new(secret, f"{purpose}|{account_id}|{request_id}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(secret: bytes, purpose: str, account_id: str, request_id: str) -> str:
    return f"{request_id}.{_mac(secret, purpose, account_id, request_id)}"


def request_id_of(token: Any) -> str:
    """The request a token names, or a ValidationFailed for anything that cannot be one."""
    if not isinstance(token, str) or len(token) > 200 or token.count(".") != 1:
        raise invalid_link()
    request_id, _mac_part = token.split(".")
    try:
        return str(uuid.UUID(request_id))
    except ValueError as exc:
        raise invalid_link() from exc


@dataclass(frozen=True)
class RequestRow:
    id: str
    account_id: str
    purpose: str
    expires_at: datetime
    used_at: datetime | None


def check_token(secret: bytes, token: str, row: RequestRow | None, purposes: tuple[str, ...],
                now: datetime) -> None:
    """Raises a ValidationFailed unless `token` is this row's, for one of `purposes`, unused and
    not expired."""
    if row is None or row.purpose not in purposes:
        raise invalid_link()
    expected = make_token(secret, row.purpose, row.account_id, row.id)
    if not hmac.compare_digest(expected.encode(), token.encode()):
        raise invalid_link()
    if row.used_at is not None or row.expires_at <= now:
        raise invalid_link()


def load_secret(accounts_cfg: dict[str, Any], keys_dir: str) -> bytes:
    """ACCOUNT_TOKEN_SECRET, or a key file made once under the keys directory."""
    configured = accounts_cfg.get("token_secret") or ""
    if configured:
        return configured.encode()
    path = Path(keys_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


# --- API keys ---------------------------------------------------------------------------

API_KEY_PREFIX = "cxk_"


@dataclass(frozen=True)
class NewApiKey:
    prefix: str  # public, shown in lists, the lookup key
    secret_sha256: str
    key: str  # prefix.secret: shown once, never stored


def new_api_key() -> NewApiKey:
    prefix = API_KEY_PREFIX + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(prefix, secret_digest(secret), f"{prefix}.{secret}")


def is_api_key(raw: str) -> bool:
    return raw.startswith(API_KEY_PREFIX)


def split_api_key(raw: Any) -> tuple[str, str] | None:
    if not isinstance(raw, str) or not is_api_key(raw) or raw.count(".") != 1 or len(raw) > 200:
        return None
    prefix, secret = raw.split(".")
    return (prefix, secret) if prefix and secret else None


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(secret_digest(secret), stored_digest)


def api_key_subject(key_id: str) -> str:
    """The `sub` of the token an API key is exchanged for: no account, the key itself."""
    return f"apikey:{key_id}"
