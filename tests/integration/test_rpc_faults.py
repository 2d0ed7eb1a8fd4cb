"""RPC when things go wrong: a stale request expires, a lost broker is a 503, a reply that
cannot be sent does not kill the service, reply queues go with their process."""

from __future__ import annotations

import eventlet
import pytest
import requests
from kombu import Connection
from nameko.exceptions import RpcTimeout
from nameko.rpc import rpc
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_hook

from common.entrypoints import rpc as platform_rpc
from common.errors import GatewayTimeout, ServiceUnavailable
from common.rpc import Rpc, TransientResponder
from gateway.http import response_for
from tests.fixtures import free_port

DONE: list[str] = []


class Recorder:
    name = "recorder"

    @platform_rpc
    def record(self, value: str) -> str:
        DONE.append(value)
        return value


class Caller:
    name = "caller"
    calls = Rpc()

    @rpc
    def ask(self, value: str, timeout: float) -> str:
        try:
            return self.calls.call("recorder", "record", value, timeout=timeout)
        except GatewayTimeout:
            return "timeout"
        except ServiceUnavailable as exc:
            return f"unavailable: {exc}"


def _rpc_dependency(container) -> Rpc:
    return next(dep for dep in container.dependencies if isinstance(dep, Rpc))


def test_a_request_whose_caller_gave_up_is_not_run_later(container_factory, rabbit_config):
    DONE.clear()
    recorder = container_factory(Recorder, rabbit_config)
    recorder.start()
    container_factory(Caller, rabbit_config).start()
    with ServiceRpcProxy("caller", rabbit_config) as caller:
        assert caller.ask("warm-up", 5) == "warm-up"
        recorder.stop()  # its queue stays, as when a service is down or busy
        assert caller.ask("stale", 0.2) == "timeout"
        eventlet.sleep(0.3)  # the request's TTL (0.2 s) passes while nobody consumes
        container_factory(Recorder, rabbit_config).start()
        assert caller.ask("fresh", 5) == "fresh"
    assert DONE == ["warm-up", "fresh"]


def test_a_lost_broker_and_a_stopping_process_are_503s(container_factory, rabbit_config):
    container = container_factory(Caller, rabbit_config)
    container.start()
    dependency = _rpc_dependency(container)
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    dependency.connection = Connection(dead, connect_timeout=1, transport_options={
        "max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1})
    dependency.amqp_uri = dead
    with entrypoint_hook(container, "ask") as ask:
        assert ask("x", 2).startswith("unavailable: The message broker cannot be reached")
        dependency.stopping = True
        assert ask("x", 2) == "unavailable: This process is shutting down; try again."


@pytest.mark.parametrize("exc", [ServiceUnavailable("down"), ConnectionRefusedError(111, "refused")])
def test_503_answers_say_when_to_come_back(exc):
    response = response_for(exc)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.mimetype == "application/problem+json"


def test_a_reply_that_cannot_be_sent_leaves_the_service_running(container_factory, rabbit_config,
                                                               monkeypatch):
    DONE.clear()
    container_factory(Recorder, rabbit_config).start()
    real, attempts = TransientResponder.send_response, []

    def refused_once(self, result, exc_info):
        attempts.append(result)
        if len(attempts) == 1:
            raise ConnectionRefusedError(111, "Connection refused")
        return real(self, result, exc_info)

    monkeypatch.setattr(TransientResponder, "send_response", refused_once)
    # The caller's deadline answers it.
    with ServiceRpcProxy("recorder", rabbit_config, timeout=1) as proxy, pytest.raises(RpcTimeout):
        proxy.record("lost reply")
    with ServiceRpcProxy("recorder", rabbit_config, timeout=5) as proxy:
        assert proxy.record("next") == "next"
    assert DONE == ["lost reply", "next"]


def test_reply_queues_are_not_durable_and_expire(container_factory, rabbit_config):
    container_factory(Caller, rabbit_config).start()
    vhost = rabbit_config["AMQP_URI"].rsplit("/", 1)[1]
    queues = requests.get(f"http://guest:guest@localhost:15672/api/queues/{vhost}", timeout=5).json()
    replies = [q for q in queues if q["name"].startswith("rpc.reply-caller-")]
    assert replies and all(not q["durable"] and q["auto_delete"]
                           and q["arguments"]["x-expires"] <= 60_000 for q in replies)
