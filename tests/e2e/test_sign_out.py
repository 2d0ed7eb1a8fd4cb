"""Sign-out: a revoked token stops working within seconds in every gateway process and every
service, including a process started after the sign-out."""

from __future__ import annotations

import time
from typing import Any

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from common.errors import Unauthorized
from tests.fixtures import Api, free_port
from tests.helpers import login, sign_up

pytestmark = pytest.mark.e2e


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


@pytest.fixture
def another_gateway(container_factory: Any, config: dict[str, Any], api: Api):
    """Another gateway process of the same system (its own token cache and revocation list)."""
    from gateway.service import GatewayService

    def start() -> Api:
        own = {**config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}
        container = container_factory(GatewayService, own)
        container.start()
        return Api(f"http://{own['WEB_SERVER_ADDRESS']}", config)

    return start


def _lists_contacts(config: dict[str, Any], headers: dict[str, str]) -> bool:
    """Whether the matching service (not a gateway) accepts the token."""
    token = headers["Authorization"].removeprefix("Bearer ")
    with ClusterRpcProxy(config, context_data={"auth_token": token}, timeout=10) as rpc:
        try:
            rpc.matching.list_contacts({})
        except Unauthorized:
            return False
    return True


def test_a_signed_out_token_is_refused_by_every_gateway_and_service(api, config, another_gateway):
    other = another_gateway()
    email, headers = sign_up(api)
    second_session = login(api, email)
    assert other.get("/api/v1/me", headers=headers).status_code == 200  # cached as valid there
    assert _lists_contacts(config, headers)

    assert api.post("/api/v1/account/sign-out", headers=headers).status_code == 204
    assert api.get("/api/v1/me", headers=headers).status_code == 401
    wait_for(lambda: other.get("/api/v1/me", headers=headers).status_code == 401)
    wait_for(lambda: not _lists_contacts(config, headers))
    refused = other.get("/api/v1/me", headers=headers)
    assert refused.json()["detail"] == "This session has been signed out."
    # Only that session: the other sign-in of the same account goes on.
    assert other.get("/api/v1/me", headers=second_session).status_code == 200
    assert _lists_contacts(config, second_session)
    # Signing out twice is not an error anyone can learn from: the token is simply refused.
    assert api.post("/api/v1/account/sign-out", headers=headers).status_code == 401


def test_a_gateway_started_after_the_sign_out_refuses_the_token_too(api, another_gateway):
    _email, headers = sign_up(api)
    assert api.post("/api/v1/account/sign-out", headers=headers).status_code == 204
    late = another_gateway()
    wait_for(lambda: late.get("/api/v1/me", headers=headers).status_code == 401)


def test_signing_out_everywhere_ends_every_session_but_not_later_ones(api, config, another_gateway):
    other = another_gateway()
    email, first = sign_up(api)
    second = login(api, email)
    _someone, stranger = sign_up(api)
    assert api.post("/api/v1/account/sign-out-everywhere", headers=second).status_code == 204
    for headers in (first, second):
        wait_for(lambda h=headers: other.get("/api/v1/me", headers=h).status_code == 401)
        assert api.get("/api/v1/me", headers=headers).status_code == 401
    wait_for(lambda: not _lists_contacts(config, first))
    fresh = login(api, email)
    assert other.get("/api/v1/me", headers=fresh).status_code == 200
    assert api.get("/api/v1/me", headers=stranger).status_code == 200
