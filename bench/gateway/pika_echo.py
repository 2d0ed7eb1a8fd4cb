"""A raw RPC echo over RabbitMQ with pika, the floor under any RPC framework.

    python -m bench.gateway.pika_echo serve AMQP_URL          # the echo server
    python -m bench.gateway.pika_echo drive AMQP_URL N SECS   # N requests in flight

Both sides use transient messages and no publisher confirms, like common.rpc. The driver
prints one JSON line: requests/s, p50 and p99 in milliseconds.
"""

from __future__ import annotations

import json
import sys
import time
import uuid

import pika

QUEUE = "bench_pika_echo"


def serve(url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.queue_declare(QUEUE, auto_delete=True)
    channel.basic_qos(prefetch_count=64)

    def on_request(ch, method, props, body):  # noqa: ANN001 - pika's callback signature
        ch.basic_publish("", props.reply_to, body,
                         pika.BasicProperties(correlation_id=props.correlation_id))
        ch.basic_ack(method.delivery_tag)

    channel.basic_consume(QUEUE, on_request)
    channel.start_consuming()


def drive(url: str, in_flight: int, seconds: float) -> dict[str, float]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    reply_queue = channel.queue_declare("", exclusive=True).method.queue
    sent: dict[str, float] = {}
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    def send() -> None:
        correlation_id = uuid.uuid4().hex
        sent[correlation_id] = time.monotonic()
        channel.basic_publish("", QUEUE, b'{"args": ["hello"], "kwargs": {}}',
                              pika.BasicProperties(reply_to=reply_queue,
                                                   correlation_id=correlation_id))

    def on_reply(ch, method, props, body):  # noqa: ANN001
        started = sent.pop(props.correlation_id, None)
        if started is not None:
            latencies.append(time.monotonic() - started)
        if time.monotonic() < deadline:
            send()
        elif not sent:
            ch.stop_consuming()

    channel.basic_consume(reply_queue, on_reply, auto_ack=True)
    started = time.monotonic()
    for _ in range(in_flight):
        send()
    channel.start_consuming()
    elapsed = time.monotonic() - started
    connection.close()
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "requests": len(latencies), "errors": 0,
            "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000}


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        print(json.dumps(drive(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))))
