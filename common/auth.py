"""Tokens and callers.

Registration signs short-lived RS256 JWTs; the gateway and every service verify them with
the public keys (several may be live during a key rotation, told apart by `kid`). A nameko
service builds its caller from the token that travels in the RPC context data, never from
an argument.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from nameko.extensions import DependencyProvider

from common.errors import NotAllowed, Unauthorized

# `service`: another service acting for itself (e.g. notifications asking for an email
# address); its subject names which one, `service:<name>`.
ROLES = ("participant", "partnership_contact", "support_agent", "admin", "backoffice", "service")
SERVICE_ROLE = "service"
ALGORITHM = "RS256"
_VERIFIED_CACHE_SIZE = 10_000


def generate_key(keys_dir: str | Path) -> str:
    """A new signing key; its kid sorts after every older one."""
    directory = Path(keys_dir)
    directory.mkdir(parents=True, exist_ok=True)
    kid = datetime.now(UTC).strftime("k%Y%m%d%H%M%S") + os.urandom(3).hex()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_path = directory / f"{kid}.key.pem"
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private)
    (directory / f"{kid}.pub.pem").write_bytes(public)
    return kid


# Parsed once per process and key: loading an RSA private key checks it, ~20 ms of CPU, and
# every service's Auth and the gateway load the same files when they start. Keyed by the
# file's bytes, so a rotated or rewritten key is parsed anew.
@lru_cache(maxsize=32)
def _public_key(pem: bytes) -> Any:
    return serialization.load_pem_public_key(pem)


@lru_cache(maxsize=8)
def _private_key(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, password=None)


def decode_segment(segment: str) -> Any:
    """One segment of a token (base64url JSON), unverified: only for choosing a key, or
    where nothing is decided on it. ValueError or TypeError if it is not base64url JSON."""
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


@lru_cache(maxsize=64)
def _kid_of(header: str) -> str:
    """The key id a token's header names, only to pick the key: `jwt.decode` then checks the
    whole token. Tokens of one key share their header, so it is decoded once per key (PyJWT's
    `get_unverified_header` decoded every segment of the token: ~70 µs, a third of verifying
    a new token)."""
    try:
        decoded = decode_segment(header)
    except (ValueError, TypeError) as exc:
        raise jwt.DecodeError("Invalid header") from exc
    kid = decoded.get("kid", "") if isinstance(decoded, dict) else ""
    return kid if isinstance(kid, str) else ""


@dataclass
class Keyring:
    keys_dir: Path
    active_kid: str = ""
    public_keys: dict[str, Any] = field(default_factory=dict)
    private_key: Any = None
    _last_reload: float = 0.0

    @classmethod
    def load(cls, keys_dir: str | Path, active_kid: str = "", generate: bool = True) -> Keyring:
        directory = Path(keys_dir)
        if generate and not list(directory.glob("*.pub.pem")):
            generate_key(directory)
        ring = cls(Path(directory), active_kid)
        ring.reload()
        return ring

    def reload(self) -> None:
        self._last_reload = time.monotonic()
        publics = {}
        for path in sorted(self.keys_dir.glob("*.pub.pem")):
            publics[path.name.removesuffix(".pub.pem")] = _public_key(path.read_bytes())
        self.public_keys = publics
        signing = self.active_kid or (max(publics) if publics else "")
        private_path = self.keys_dir / f"{signing}.key.pem"
        if signing and private_path.exists():
            self.active_kid = signing
            self.private_key = _private_key(private_path.read_bytes())

    def public_key(self, kid: str) -> Any:
        key = self.public_keys.get(kid)
        if key is None and time.monotonic() - self._last_reload > 5:
            self.reload()  # a key rotated in since start
            key = self.public_keys.get(kid)
        return key


@dataclass(frozen=True)
class Caller:
    account_id: str
    roles: frozenset[str]
    org_id: str | None = None
    partnership_id: str | None = None
    token: str | None = field(default=None, repr=False)  # never in a log line
    session_id: str | None = None  # the `sid` claim: what a sign-out revokes
    issued_at: float = 0.0

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def require(self, *roles: str) -> None:
        if not self.has(*roles):
            raise NotAllowed("Your role may not do this.")


class TokenService:
    def __init__(self, cfg: dict[str, Any], generate: bool = True) -> None:
        self.issuer = cfg.get("issuer", "clusterxchange")
        self.ttl = int(cfg.get("ttl_seconds", 900))
        self.keyring = Keyring.load(cfg["keys_dir"], cfg.get("active_kid", ""), generate)
        self._verified: dict[str, tuple[float, Caller]] = {}
        self.revoked = RevocationList()

    def issue(self, account_id: str, roles: list[str], org_id: str | None,
              partnership_id: str | None, session_id: str | None = None,
              ttl: int | None = None) -> tuple[str, int]:
        if self.keyring.private_key is None:
            raise RuntimeError("this process holds no signing key")
        lifetime = self.ttl if ttl is None else int(ttl)
        # iat in milliseconds precision matters: "sign out everywhere" revokes what was issued
        # before a moment, and a sign-in in the same second after it must stay valid.
        now = time.time()
        claims = {
            "iss": self.issuer,
            "sub": account_id,
            "account_id": account_id,
            "roles": sorted(roles),
            "org_id": org_id,
            "partnership_id": partnership_id,
            "sid": session_id or str(uuid.uuid4()),
            "jti": str(uuid.uuid4()),
            "iat": int(now),
            "iat_ms": int(now * 1000),
            "exp": int(now) + lifetime,
        }
        token = jwt.encode(claims, self.keyring.private_key, algorithm=ALGORITHM,
                           headers={"kid": self.keyring.active_kid})
        return token, lifetime

    def verify(self, token: str) -> Caller:
        cached = self._verified.get(token)
        if cached is not None:
            expires_at, caller = cached
            if time.time() < expires_at:
                self._check_revoked(caller)
                return caller
            self._verified.pop(token, None)
        try:
            key = self.keyring.public_key(_kid_of(token.partition(".")[0]))
            if key is None:
                raise Unauthorized("The token was signed with an unknown key.")
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], issuer=self.issuer,
                                options={"require": ["exp", "iat", "sub"]})
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("The token is not valid.") from exc
        roles = claims.get("roles") or []
        if not isinstance(roles, list) or not set(roles) <= {*ROLES, SERVICE_ROLE}:
            raise Unauthorized("The token carries unknown roles.")
        caller = Caller(
            account_id=claims["account_id"],
            roles=frozenset(roles),
            org_id=claims.get("org_id"),
            partnership_id=claims.get("partnership_id"),
            token=token,
            session_id=claims.get("sid"),
            issued_at=float(claims.get("iat_ms") or claims["iat"] * 1000) / 1000,
        )
        self._check_revoked(caller)
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (float(claims["exp"]), caller)
        return caller

    def _check_revoked(self, caller: Caller) -> None:
        if self.revoked.is_revoked(caller):
            raise Unauthorized("This session has been signed out.")


class RevocationList:
    """Sessions signed out before their tokens expire, as this process knows them.

    Two kinds of entries: one session (`sid`), and "every session of an account issued
    before a moment" (sign out everywhere, a new password). An entry only matters while a
    token it covers can still be valid, so `forget_expired` drops it after that.
    """

    def __init__(self) -> None:
        self.sessions: dict[str, float] = {}  # sid -> until when it matters (epoch seconds)
        self.accounts: dict[str, tuple[float, float]] = {}  # account -> (not_before, until)

    def revoke_session(self, session_id: str, until: float) -> None:
        self.sessions[session_id] = max(until, self.sessions.get(session_id, 0.0))

    def revoke_account(self, account_id: str, not_before: float, until: float) -> None:
        previous = self.accounts.get(account_id)
        if previous is None or previous[0] < not_before:
            self.accounts[account_id] = (not_before, until)

    def apply(self, entry: dict[str, Any]) -> None:
        """An entry as `registration` publishes it (event or snapshot)."""
        until = float(entry.get("until") or time.time() + 86400)
        if entry.get("session_id"):
            self.revoke_session(entry["session_id"], until)
        elif entry.get("account_id") and entry.get("not_before") is not None:
            self.revoke_account(entry["account_id"], float(entry["not_before"]), until)

    def is_revoked(self, caller: Caller) -> bool:
        if caller.session_id and caller.session_id in self.sessions:
            return True
        cutoff = self.accounts.get(caller.account_id)
        return cutoff is not None and caller.issued_at < cutoff[0]

    def forget_expired(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.sessions = {sid: until for sid, until in self.sessions.items() if until > now}
        self.accounts = {acc: entry for acc, entry in self.accounts.items() if entry[1] > now}


class CallerContext:
    """`self.auth.caller` in a worker: the verified caller or 401."""

    def __init__(self, tokens: TokenService, token: str | None) -> None:
        self.tokens = tokens
        self._token = token
        self._caller: Caller | None = None

    @property
    def caller(self) -> Caller:
        if self._caller is None:
            if not self._token:
                raise Unauthorized("Authentication is required.")
            self._caller = self.tokens.verify(self._token)
        return self._caller

    @property
    def authenticated(self) -> bool:
        return bool(self._token)


class Auth(DependencyProvider):
    def __init__(self, signing: bool = False) -> None:
        self.signing = signing

    def setup(self) -> None:
        from common.revocation import RevocationFeed

        self.tokens = TokenService(self.container.config["JWT"], generate=self.signing)
        self.feed = RevocationFeed(self.container.config, self.tokens.revoked)

    def start(self) -> None:
        self.feed.start()

    def stop(self) -> None:
        self.feed.stop()

    def kill(self) -> None:
        self.feed.stop()

    def get_dependency(self, worker_ctx: Any) -> CallerContext:
        return CallerContext(self.tokens, worker_ctx.data.get("auth_token"))
