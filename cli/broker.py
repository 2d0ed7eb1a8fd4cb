"""A clear word when RabbitMQ is not there, instead of a stack trace or a silent hang."""

from __future__ import annotations

import sys

from kombu import Connection

HINT = ("RabbitMQ is not reachable at {uri}: start it with `rabbitmq-server -detached` "
        "(or `docker compose up -d rabbitmq`), or set AMQP_URI.")


def broker_reachable(amqp_uri: str) -> bool:
    try:
        with Connection(amqp_uri, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
        return True
    except Exception:
        return False


def require_broker(amqp_uri: str) -> None:
    if not broker_reachable(amqp_uri):
        safe = amqp_uri.split("@")[-1]
        print(HINT.format(uri=safe), file=sys.stderr)
        sys.exit(1)
