"""A clear word when RabbitMQ is not there, or turns us away, instead of a stack trace or a
silent hang."""

from __future__ import annotations

import sys

from amqp.exceptions import AccessRefused, NotAllowed
from kombu import Connection

UNREACHABLE = ("RabbitMQ is not reachable at {where}: start it with `rabbitmq-server -detached` "
               "(`make run` does when it is installed here), or `docker compose up -d rabbitmq`, "
               "or set AMQP_URI.")
REFUSED = ("RabbitMQ at {where} refused the credentials of user {user!r}: the broker runs, but "
           "AMQP_URI's user or password is wrong (in .env or the environment).")
VHOST = ("RabbitMQ at {where} let user {user!r} in but not into virtual host {vhost!r}: create it "
         "or grant the user access (rabbitmqctl set_permissions -p {vhost} {user} '.*' '.*' '.*').")


def broker_problem(amqp_uri: str) -> str | None:
    """None when the broker takes us, else one sentence saying what is wrong."""
    conn = Connection(amqp_uri, connect_timeout=3)
    where = f"{conn.hostname}:{conn.port or 5672}"
    details = {"where": where, "user": conn.userid, "vhost": conn.virtual_host}
    try:
        with conn:
            conn.ensure_connection(max_retries=1, timeout=3)
        return None
    except AccessRefused:
        return REFUSED.format(**details)
    except NotAllowed:
        return VHOST.format(**details)
    except Exception:
        return UNREACHABLE.format(**details)


def broker_reachable(amqp_uri: str) -> bool:
    return broker_problem(amqp_uri) is None


def require_broker(amqp_uri: str) -> None:
    problem = broker_problem(amqp_uri)
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(1)
