"""argon2id password hashes, computed off the eventlet hub (they take tens of ms of CPU)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from eventlet import tpool

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a miss costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0000")


def hash_password(password: str) -> str:
    return tpool.execute(_hasher.hash, password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return tpool.execute(_hasher.verify, stored_hash or _DUMMY_HASH, password) and bool(
            stored_hash
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
