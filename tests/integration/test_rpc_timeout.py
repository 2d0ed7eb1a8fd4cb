"""A gateway call to a service that does not answer ends with 504, not a hung worker."""

from __future__ import annotations

import eventlet
import pytest
from nameko.rpc import rpc
from nameko.standalone.rpc import ServiceRpcProxy

from common.errors import GatewayTimeout, ServiceUnavailable
from common.rpc import Rpc


class Sleepy:
    name = "sleepy"

    @rpc
    def nap(self, seconds: float) -> str:
        eventlet.sleep(seconds)
        return "rested"


class Caller:
    name = "caller"
    calls = Rpc()

    @rpc
    def ask(self, service: str, seconds: float) -> str:
        try:
            return self.calls.call(service, "nap", seconds, timeout=0.3, confirm=True)
        except GatewayTimeout:
            return f"timeout, {len(self.calls.listener._reply_events)} pending"
        except ServiceUnavailable:
            return "unavailable"


@pytest.fixture
def caller(container_factory, rabbit_config):
    config = {**rabbit_config, "RPC_TIMEOUT_SECONDS": 5}
    container_factory(Sleepy, config).start()
    container_factory(Caller, config).start()
    with ServiceRpcProxy("caller", config) as proxy:
        yield proxy


def test_slow_service_times_out_and_leaves_nothing_pending(caller):
    assert caller.ask("sleepy", 0) == "rested"
    assert caller.ask("sleepy", 2) == "timeout, 0 pending"


def test_missing_service_is_reported_unavailable(caller):
    assert caller.ask("nobody", 0) == "unavailable"
