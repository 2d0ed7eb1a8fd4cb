"""RPC between our processes, leaner than nameko's stock proxy and with a deadline.

Calls: nameko's RpcProxy waits for a reply forever; a gateway worker must not. `Rpc` gives
up after RPC_TIMEOUT_SECONDS (504) and carries the caller's token and the request id in the
context data, which travels in the message headers as nameko expects. Each request carries
a message TTL equal to that deadline: a request nobody took in time is dropped by RabbitMQ
instead of being run after its caller gave up. A broker that cannot be reached (or a
process shutting down) is a 503, never a 500.

Messages are transient and published without broker confirms: a request or reply that a
broker crash loses ends in the caller's deadline, exactly like a slow service, so paying a
disk write and a confirm round trip for each would buy nothing. Health checks publish with
`confirm=True`, which also tells at once that no instance of a service is running.

Replies: a reply that cannot be published (the broker restarts) is logged and dropped, and
so is the ack of its request: the caller's deadline answers it, and the container lives on
(nameko would kill it). Reply queues are non-durable, auto-delete and expire shortly after
their process is gone, so a killed process leaves nothing behind.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import kombu.serialization
from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.exceptions import RecoverableConnectionError
from kombu import Connection, Queue
from kombu.exceptions import ChannelError, OperationalError
from kombu.pools import producers
from nameko.constants import NON_PERSISTENT
from nameko.exceptions import UnserializableValueError, deserialize, serialize
from nameko.extensions import DependencyProvider
from nameko.messaging import QueueConsumer
from nameko.rpc import RPC_REPLY_QUEUE_TEMPLATE, ReplyListener, RpcConsumer, get_rpc_exchange
from nameko.rpc import Rpc as RpcEntrypoint

from common.errors import GatewayTimeout, ServiceUnavailable
from common.logs import current_request_id
from common.metrics import BROKER_RECONNECTS

log = logging.getLogger(__name__)

# What a lost broker looks like from kombu and py-amqp, at connect, publish or ack time.
BROKER_ERRORS = (OSError, AmqpConnectionError, RecoverableConnectionError, OperationalError)
# A publish retries briefly: a caller facing a broker outage gets its 503 in about a second.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
TRANSPORT = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
# A reply queue outlives its process by this long at most (nameko's default: 5 minutes,
# durable); it is auto-delete besides, so it usually goes with its last consumer.
REPLY_QUEUE_EXPIRES_MS = 30_000


def broker_unavailable(service: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"The message broker cannot be reached, so the {service} service "
                              "cannot be asked; try again shortly.")


class QuickReconnectQueueConsumer(QueueConsumer):
    """nameko's consumer, back within about two seconds of the broker's return (kombu's
    default pause between attempts grows to 30 s, and RPC would wait that long)."""

    # Whether the consumer connection is up, for the process's readiness (common.health):
    # down from a loss until the consumers are declared again on a new connection.
    broker_connected = False
    broker_reconnects = 0
    _ever_connected = False

    @contextmanager
    def establish_connection(self) -> Iterator[Connection]:
        self.broker_connected = False
        with self.create_connection() as conn:
            conn.ensure_connection(self.on_connection_error, self.connect_max_retries,
                                   interval_start=0.2, interval_step=0.5, interval_max=2)
            try:
                yield conn
            finally:
                self.broker_connected = False

    def consume(self, limit: Any = None, timeout: Any = None, safety_interval: float = 1,
                **kwargs: Any) -> Any:
        """kombu's loop; between messages it wakes every CONSUMER_WAKEUP_SECONDS (1 s) to see
        whether it should stop, so a killed container waits that long for its consumer."""
        wakeup = float(self.container.config.get("CONSUMER_WAKEUP_SECONDS", safety_interval))
        return super().consume(limit, timeout, wakeup, **kwargs)

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        self.broker_connected = False
        super().on_connection_error(exc, interval)

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kwargs: Any) -> None:
        if self._ever_connected:
            self.broker_reconnects += 1
            BROKER_RECONNECTS.labels(self.container.service_name).inc()
            log.info("connection to the broker is back; consuming again")
        self._ever_connected = self.broker_connected = True
        super().on_consume_ready(connection, channel, consumers, **kwargs)

    def get_consumers(self, consumer_cls: Any, channel: Any) -> Any:
        """nameko's, except that a provider with `auto_ack` consumes without acks."""
        for provider in self._providers:
            consumer = consumer_cls(queues=[provider.queue],
                                    callbacks=[partial(self.handle_message, provider)],
                                    accept=self.accept, no_ack=getattr(provider, "auto_ack", False))
            consumer.qos(prefetch_count=self.prefetch_count)
            self._consumers[provider] = consumer
        return self._consumers.values()


class RpcClient:
    def __init__(self, worker_ctx: Any, provider: Rpc) -> None:
        self.worker_ctx = worker_ctx
        self.provider = provider
        self.listener = provider.rpc_reply_listener

    def call(self, service: str, method: str, *args: Any, auth_token: str | None = None,
             timeout: float | None = None, confirm: bool = False, **kwargs: Any) -> Any:
        if self.provider.stopping:
            raise ServiceUnavailable("This process is shutting down; try again.")
        deadline = float(timeout or self.provider.timeout)
        # Broker headers (x-death, x-delivery-count) of an event being handled are not context.
        context = {key: value for key, value in self.worker_ctx.context_data.items()
                   if not key.startswith("x-")}
        context["auth_token"] = auth_token
        context.setdefault("request_id", current_request_id())
        headers = {f"nameko.{key}": value for key, value in context.items() if value is not None}
        correlation_id = str(uuid.uuid4())
        reply_event = self.listener.get_reply_event(correlation_id)
        pool = self.provider.confirmed_producers if confirm else self.provider.producers
        try:
            with pool.acquire(block=True) as producer:
                producer.publish(
                    {"args": args, "kwargs": kwargs},
                    exchange=self.provider.exchange,
                    routing_key=f"{service}.{method}",
                    mandatory=confirm,
                    reply_to=self.listener.routing_key,
                    correlation_id=correlation_id,
                    headers=headers,
                    delivery_mode=NON_PERSISTENT,
                    expiration=deadline,
                    serializer=self.provider.serializer,
                    retry=True,
                    retry_policy=PUBLISH_RETRY,
                )
        except ChannelError as exc:
            self.listener._reply_events.pop(correlation_id, None)
            if "NO_ROUTE" in str(exc):
                raise ServiceUnavailable(f"The {service} service is not running.") from exc
            raise broker_unavailable(service) from exc
        except BROKER_ERRORS as exc:
            self.listener._reply_events.pop(correlation_id, None)
            raise broker_unavailable(service) from exc
        except RuntimeError as exc:  # "Acquire on closed pool": the process is stopping
            self.listener._reply_events.pop(correlation_id, None)
            raise ServiceUnavailable("This process is shutting down; try again.") from exc
        # The event's own timer (None when it fires): an eventlet.Timeout per call costs an
        # exception object, its greenlet bookkeeping and a raise/catch on every deadline.
        body = reply_event.wait(timeout=deadline)
        if body is None:
            self.listener._reply_events.pop(correlation_id, None)
            if not self.provider.broker_reachable():
                raise broker_unavailable(service)
            raise GatewayTimeout(f"The {service} service did not answer in time.")
        if body.get("error"):
            raise deserialize(body["error"])
        return body["result"]


class ShortLivedReplyListener(ReplyListener):
    """nameko's reply listener with a reply queue that goes with its process, consumed
    without acks: a reply is worth nothing once its process is gone, and acking each one
    cost the caller and the broker a frame per call."""

    queue_consumer = QuickReconnectQueueConsumer()
    auto_ack = True

    def handle_message(self, body: Any, message: Any) -> None:
        correlation_id = message.properties.get("correlation_id")
        client_event = self._reply_events.pop(correlation_id, None)
        if client_event is not None:
            client_event.send(body)

    def setup(self) -> None:
        super().setup()
        reply_queue_uuid = self.routing_key
        self.queue = Queue(
            RPC_REPLY_QUEUE_TEMPLATE.format(self.container.service_name, reply_queue_uuid),
            exchange=get_rpc_exchange(self.container.config),
            routing_key=reply_queue_uuid,
            durable=False,
            auto_delete=True,
            queue_arguments={"x-expires": REPLY_QUEUE_EXPIRES_MS},
        )


class Rpc(DependencyProvider):
    rpc_reply_listener = ShortLivedReplyListener()

    def setup(self) -> None:
        config = self.container.config
        self.stopping = False
        self.timeout = float(config.get("RPC_TIMEOUT_SECONDS", 10.0))
        self.exchange = get_rpc_exchange(config)
        self.serializer = config.get("serializer", "json")
        self.amqp_uri = config["AMQP_URI"]
        self.connection = Connection(self.amqp_uri, connect_timeout=2, transport_options={
            **TRANSPORT, "confirm_publish": False})
        self.confirmed = Connection(self.amqp_uri, connect_timeout=2, transport_options={
            **TRANSPORT, "confirm_publish": True})
        # Looked up once: kombu finds a connection's pool by hashing its settings each time.
        self.producers = producers[self.connection]
        self.confirmed_producers = producers[self.confirmed]

    def broker_reachable(self) -> bool:
        try:
            with Connection(self.amqp_uri, connect_timeout=1) as conn:
                conn.ensure_connection(max_retries=0, timeout=1)  # one attempt, no pause
            return True
        except Exception:
            return False

    def stop(self) -> None:
        self.stopping = True
        for connection in (self.connection, self.confirmed):
            producers[connection].force_close_all()

    def get_dependency(self, worker_ctx: Any) -> RpcClient:
        return RpcClient(worker_ctx, self)


class TransientResponder:
    """Sends an RPC's reply: serialised once (nameko's Responder serialises every result
    twice, once only to check that it can), transient, without confirms, through a
    producer pool on the consumer's one connection (nameko builds a Connection per reply)."""

    def __init__(self, producer_pool: Any, exchange: Any, message: Any) -> None:
        self.producer_pool = producer_pool
        self.exchange = exchange
        self.message = message

    def send_response(self, result: Any, exc_info: Any) -> tuple[Any, Any]:
        error = serialize(exc_info[1]) if exc_info is not None else None
        serializer = kombu.serialization.registry.type_to_name[
            self.message.properties["content_type"]]
        try:
            content_type, encoding, body = kombu.serialization.dumps(
                {"result": result, "error": error}, serializer)
        except Exception:  # the result cannot be sent: the caller gets an error instead
            exc_info = sys.exc_info()
            error = serialize(UnserializableValueError(result))
            result = None
            content_type, encoding, body = kombu.serialization.dumps(
                {"result": None, "error": error}, serializer)
        with self.producer_pool.acquire(block=True) as producer:
            producer.publish(body, content_type=content_type, content_encoding=encoding,
                             exchange=self.exchange,
                             routing_key=self.message.properties["reply_to"],
                             correlation_id=self.message.properties.get("correlation_id"),
                             delivery_mode=NON_PERSISTENT, retry=True, retry_policy=PUBLISH_RETRY)
        return result, exc_info


class TransientRpcConsumer(RpcConsumer):
    """Replies like nameko's, minus the confirm round trip and the persistence flag, and
    survives a reply or an ack that the broker cannot take."""

    queue_consumer = QuickReconnectQueueConsumer()

    def setup(self) -> None:
        super().setup()
        # kombu pools producers by connection URI and options, process-wide: the pool is
        # shared with every consumer of this broker here, so it is never closed on stop.
        self.reply_connection = Connection(self.container.config["AMQP_URI"], connect_timeout=2,
                                           transport_options={**TRANSPORT,
                                                              "confirm_publish": False})
        # Both made once, not per reply (kombu hashes the connection's settings to find its
        # pool; an Exchange is a new object each time).
        self.reply_producers = producers[self.reply_connection]
        self.reply_exchange = get_rpc_exchange(self.container.config)

    def handle_result(self, message: Any, result: Any, exc_info: Any) -> Any:
        responder = TransientResponder(self.reply_producers, self.reply_exchange, message)
        routing_key = message.delivery_info.get("routing_key")
        try:
            result, exc_info = responder.send_response(result, exc_info)
        except Exception as exc:  # noqa: BLE001 - any failure here would kill the container
            log.warning("could not publish the reply to %s (%s); the caller's deadline answers it",
                        routing_key, exc.__class__.__name__)
        try:
            self.queue_consumer.ack_message(message)
        except Exception as exc:  # noqa: BLE001 - the broker requeues an unacked message itself
            log.warning("could not ack %s (%s); the broker redelivers it if it is still alive",
                        routing_key, exc.__class__.__name__)
        return result, exc_info


class TransientRpc(RpcEntrypoint):
    rpc_consumer = TransientRpcConsumer()
