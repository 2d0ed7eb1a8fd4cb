"""RPC between our processes, leaner than nameko's stock proxy and with a deadline.

Calls: nameko's RpcProxy waits for a reply forever; a gateway worker must not. `Rpc` gives
up after RPC_TIMEOUT_SECONDS (504) and carries the caller's token in the context data,
which travels in the message headers as nameko expects.

Messages are transient and published without broker confirms: a request or reply that a
broker crash loses ends in the caller's deadline, exactly like a slow service, so paying a
disk write and a confirm round trip for each would buy nothing. Health checks publish with
`confirm=True`, which also tells at once that no instance of a service is running.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import eventlet
from kombu import Connection
from kombu.exceptions import ChannelError
from kombu.pools import producers
from nameko.amqp.publish import Publisher
from nameko.constants import DEFAULT_RETRY_POLICY, DEFAULT_TRANSPORT_OPTIONS, NON_PERSISTENT
from nameko.exceptions import deserialize
from nameko.extensions import DependencyProvider
from nameko.rpc import ReplyListener, Responder, RpcConsumer, get_rpc_exchange
from nameko.rpc import Rpc as RpcEntrypoint

from common.errors import GatewayTimeout, ServiceUnavailable


class RpcClient:
    def __init__(self, worker_ctx: Any, provider: Rpc) -> None:
        self.worker_ctx = worker_ctx
        self.provider = provider
        self.listener = provider.rpc_reply_listener

    def call(self, service: str, method: str, *args: Any, auth_token: str | None = None,
             timeout: float | None = None, confirm: bool = False, **kwargs: Any) -> Any:
        context = self.worker_ctx.context_data
        context["auth_token"] = auth_token
        headers = {f"nameko.{key}": value for key, value in context.items() if value is not None}
        correlation_id = str(uuid.uuid4())
        reply_event = self.listener.get_reply_event(correlation_id)
        connection = self.provider.confirmed if confirm else self.provider.connection
        try:
            with producers[connection].acquire(block=True) as producer:
                producer.publish(
                    {"args": args, "kwargs": kwargs},
                    exchange=self.provider.exchange,
                    routing_key=f"{service}.{method}",
                    mandatory=confirm,
                    reply_to=self.listener.routing_key,
                    correlation_id=correlation_id,
                    headers=headers,
                    delivery_mode=NON_PERSISTENT,
                    serializer=self.provider.serializer,
                    retry=True,
                    retry_policy=DEFAULT_RETRY_POLICY,
                )
        except ChannelError as exc:
            self.listener._reply_events.pop(correlation_id, None)
            if "NO_ROUTE" in str(exc):
                raise ServiceUnavailable(f"The {service} service is not running.") from exc
            raise
        body = None
        with eventlet.Timeout(timeout or self.provider.timeout, False):
            body = reply_event.wait()
        if body is None:
            self.listener._reply_events.pop(correlation_id, None)
            raise GatewayTimeout(f"The {service} service did not answer in time.")
        if body.get("error"):
            raise deserialize(body["error"])
        return body["result"]


class Rpc(DependencyProvider):
    rpc_reply_listener = ReplyListener()

    def setup(self) -> None:
        config = self.container.config
        self.timeout = float(config.get("RPC_TIMEOUT_SECONDS", 10.0))
        self.exchange = get_rpc_exchange(config)
        self.serializer = config.get("serializer", "json")
        self.connection = Connection(config["AMQP_URI"], transport_options={
            **DEFAULT_TRANSPORT_OPTIONS, "confirm_publish": False})
        self.confirmed = Connection(config["AMQP_URI"], transport_options={
            **DEFAULT_TRANSPORT_OPTIONS, "confirm_publish": True})

    def stop(self) -> None:
        for connection in (self.connection, self.confirmed):
            producers[connection].force_close_all()

    def get_dependency(self, worker_ctx: Any) -> RpcClient:
        return RpcClient(worker_ctx, self)


class TransientResponder(Responder):
    publisher_cls = partial(Publisher, use_confirms=False, delivery_mode=NON_PERSISTENT)


class TransientRpcConsumer(RpcConsumer):
    """Replies like nameko's, minus the confirm round trip and the persistence flag."""

    def handle_result(self, message: Any, result: Any, exc_info: Any) -> Any:
        config = self.container.config
        responder = TransientResponder(config["AMQP_URI"], get_rpc_exchange(config),
                                       config.get("serializer", "json"), message)
        result, exc_info = responder.send_response(result, exc_info)
        self.queue_consumer.ack_message(message)
        return result, exc_info


class TransientRpc(RpcEntrypoint):
    rpc_consumer = TransientRpcConsumer()
