"""Service identity: a client-credentials token for work that no person started.

An event handler has no user token, and no service trusts an identity passed as a plain
argument. So a service that must ask another for data while handling an event (notifications
asks registration for names and addresses) holds a secret, exchanges it with registration
(the only holder of the signing keys) for a short-lived JWT with the role `service` and the
subject `service:<name>`, and calls with that token. The called RPC accepts that role
explicitly, by name, and only on read-only lookups (`require_service`).

The secret is SERVICE_SECRET_<NAME>; without it a random one is made once in JWT_KEYS_DIR
(`service-<name>.secret`, mode 0600), which both sides read on one machine (`make run`).
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any

import eventlet
from nameko.extensions import DependencyProvider

from common.auth import SERVICE_ROLE, Caller
from common.errors import NotAllowed

log = logging.getLogger(__name__)

SUBJECT_PREFIX = "service:"
# A cached token is renewed when less than this share of its lifetime is left.
RENEW_AT_REMAINING = 1 / 3


def service_subject(service: str) -> str:
    return f"{SUBJECT_PREFIX}{service}"


def service_secret(config: dict[str, Any], service: str) -> str:
    configured = ((config.get("SERVICE_IDENTITY") or {}).get("secrets") or {}).get(service)
    if configured:
        return configured
    path = Path(config["JWT"]["keys_dir"]) / f"service-{service}.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def secret_matches(config: dict[str, Any], service: str, offered: str) -> bool:
    return hmac.compare_digest(service_secret(config, service).encode(), str(offered).encode())


def is_service(caller: Caller, *services: str) -> bool:
    return SERVICE_ROLE in caller.roles and caller.account_id in {service_subject(s) for s in services}


def require_service(caller: Caller, *services: str) -> None:
    """For an RPC that answers the named services' tokens (and nothing else)."""
    if not is_service(caller, *services):
        raise NotAllowed("Only a platform service may ask this.")


class ServiceToken(DependencyProvider):
    """`identity = ServiceToken()`; `self.identity.token` in a worker: this service's token,
    obtained from registration's `issue_service_token` and cached by the container until a
    third of its lifetime is left. Needs an `Rpc` dependency on the same service."""

    def setup(self) -> None:
        from common.rpc import Rpc

        self.rpc_provider = next(dep for dep in self.container.dependencies if isinstance(dep, Rpc))
        self.service = self.container.service_name
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = eventlet.semaphore.Semaphore()

    def token(self, worker_ctx: Any) -> str:
        if self._token is not None and time.monotonic() < self._renew_at:
            return self._token
        with self._lock:  # one request to registration however many workers need it
            if self._token is None or time.monotonic() >= self._renew_at:
                from common.rpc import RpcClient

                secret = service_secret(self.container.config, self.service)
                answer = RpcClient(worker_ctx, self.rpc_provider).call(
                    "registration", "issue_service_token", self.service, secret)
                self._token = answer["access_token"]
                self._renew_at = time.monotonic() + answer["expires_in"] * (1 - RENEW_AT_REMAINING)
        return self._token

    def get_dependency(self, worker_ctx: Any) -> _WorkerIdentity:
        return _WorkerIdentity(self, worker_ctx)


class _WorkerIdentity:
    def __init__(self, provider: ServiceToken, worker_ctx: Any) -> None:
        self._provider = provider
        self._worker_ctx = worker_ctx

    @property
    def token(self) -> str:
        return self._provider.token(self._worker_ctx)
