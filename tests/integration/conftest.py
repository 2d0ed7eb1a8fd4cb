"""Fixtures of the integration tests."""

from __future__ import annotations

from typing import Any

import pytest
from nameko.standalone.rpc import ClusterRpcProxy


@pytest.fixture
def rpc_as(config: dict[str, Any], registration_container: Any, tokens: Any):
    """`rpc_as(account_id, roles, partnership)`: the registration service as that caller,
    through the broker with a token in the context data (or `token=` as given; none for an
    empty account id)."""
    proxies = []

    def make(account_id: str, roles: list[str], partnership: str | None = None,
             token: str | None = None):
        if token is None and account_id:
            token, _ = tokens.issue(account_id, roles, None, partnership)
        proxy = ClusterRpcProxy(config, context_data={"auth_token": token} if token else {})
        proxies.append(proxy)
        return proxy.start().registration

    yield make
    for proxy in proxies:
        proxy.stop()
