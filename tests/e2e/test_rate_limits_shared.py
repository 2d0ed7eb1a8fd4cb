"""Sign-in limits behind a reverse proxy and across gateway processes: two gateways share
one Redis store, and each client (as the trusted proxy reports it) has its own allowance."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests

from tests.fixtures import free_port

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
LIMIT = 3


@pytest.fixture
def prefix() -> Iterator[str]:
    key_prefix = f"cxc-test-{secrets.token_hex(4)}:"
    yield key_prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{key_prefix}*"):
        client.delete(key)


@pytest.fixture
def gateways(container_factory: Any, config: dict[str, Any], registration_container: Any,
             prefix: str) -> list[str]:
    from gateway.service import GatewayService

    urls = []
    for _ in range(2):
        own = {**config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
               "SECURITY": {**config["SECURITY"], "rate_limit_login_per_minute": LIMIT,
                            "rate_limit_redis_url": REDIS_URL, "rate_limit_key_prefix": prefix,
                            "trusted_proxies": "127.0.0.1"}}
        container_factory(GatewayService, own).start()
        urls.append(f"http://{own['WEB_SERVER_ADDRESS']}")
    return urls


def sign_in(url: str, client: str) -> int:
    return requests.post(f"{url}/api/v1/auth/token", json={"email": "nobody@example.org",
                                                          "password": "not-the-password"},
                         headers={"X-Forwarded-For": client}, timeout=30).status_code


def test_a_client_limited_on_one_gateway_is_limited_on_the_other(gateways: list[str]):
    first, second = gateways
    attacker, bystander = "203.0.113.5", "203.0.113.6"
    answers = [sign_in(url, attacker) for url in (first, second, first)]
    assert answers == [401] * LIMIT  # wrong credentials, but not limited yet
    assert sign_in(second, attacker) == 429
    assert sign_in(first, attacker) == 429
    assert sign_in(first, bystander) == 401  # another client behind the same proxy


def test_without_the_store_each_gateway_limits_on_its_own(container_factory: Any,
                                                          config: dict[str, Any],
                                                          registration_container: Any):
    from gateway.service import GatewayService

    own = {**config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
           "SECURITY": {**config["SECURITY"], "rate_limit_login_per_minute": LIMIT,
                        # nothing listens there: the gateway falls back to its own windows
                        "rate_limit_redis_url": f"redis://127.0.0.1:{free_port()}/0"}}
    container_factory(GatewayService, own).start()
    url = f"http://{own['WEB_SERVER_ADDRESS']}"
    assert [sign_in(url, "ignored") for _ in range(LIMIT)] == [401] * LIMIT
    assert sign_in(url, "ignored") == 429  # untrusted peer: its X-Forwarded-For is no identity
