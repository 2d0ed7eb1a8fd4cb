"""How a test lets go of the shared broker: nameko's `vhost_pipeline` and `container_factory`
fixtures, replaced.

Vhosts: created ahead, and deleted a while after their test. nameko deletes a test's vhost
the moment the test ends, while its containers may still be declaring queues. RabbitMQ 3.10
(Debian's) has a race there: a quorum queue with `at-least-once` dead-lettering (every subscriber queue of
this project) deleted while it starts crashes its dead-letter worker twice, and the node's
`rabbit_fifo_dlx_sup` gives up after one restart in five seconds. From then on no such queue
can be declared on the whole node until the broker restarts: every later test that starts
a service hangs. Deleting a vhost only once its test has been over for a few seconds (the
containers stopped, every queue started) keeps deletion out of that window.

Containers: killed together at the end of a test, their consumer loops waking every 50 ms
(CONSUMER_WAKEUP_SECONDS; 1 s otherwise): a kill waits for the loop to notice. nameko's
fixture kills them one by one, after deleting the vhost had already broken every
consumer's connection, which a kill does not have to wait for.
"""

from __future__ import annotations

import random
import string
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import eventlet
import pytest
from kombu.pools import connections
from nameko.testing.utils import ResourcePipeline

GRACE_SECONDS = 3.0
DLX_SUPERVISOR_CHECK = "whereis(rabbit_fifo_dlx_sup)."


class GracefulPipeline(ResourcePipeline):
    """Hands out vhosts made ahead; a returned one is destroyed `grace` seconds later."""

    def __init__(self, create: Any, destroy: Any, grace: float, size: int = 3) -> None:
        super().__init__(create, lambda item: self._destroy_later(*item), size)
        self._delete = destroy
        self.grace = grace

    def _destroy_later(self, vhost: str, returned_at: float) -> None:
        eventlet.sleep(max(0.0, returned_at + self.grace - time.monotonic()))
        self._delete(vhost)

    @contextmanager
    def get(self) -> Iterator[str]:
        vhost = self.ready.get()
        try:
            yield vhost
        finally:
            self.trash.put((vhost, time.monotonic()))

    def _shutdown(self) -> None:
        # Vhosts made ahead but never used go out through the same queue as the others.
        self.running = False
        self.ready.resize(self.size + 1)
        eventlet.sleep()
        while self.ready.qsize() or not self.create_thread.dead:
            self.trash.put((self.ready.get(), 0.0))
        self.trash.put(ResourcePipeline.STOP)
        self.destroy_thread.wait()


@pytest.fixture
def container_factory() -> Iterator[Any]:
    from nameko.containers import get_container_cls

    made: list[Any] = []

    def make(service_cls: Any, config: dict[str, Any]) -> Any:
        # Into the test's own dict: some tests change their config after the containers start.
        config.setdefault("CONSUMER_WAKEUP_SECONDS", 0.05)
        container = get_container_cls(config)(service_cls, config)
        made.append(container)
        return container

    yield make
    pile = eventlet.GreenPile()
    for container in made:
        pile.spawn(_kill, container)
    list(pile)


def _kill(container: Any) -> None:
    try:
        container.kill()
    except Exception:  # noqa: BLE001 - as nameko's fixture: a failed kill must not hide the test's result
        pass


def dead_letter_supervisor_gone() -> bool:
    """True when the broker answers that its quorum dead-letter supervisor is not running.
    False when it is, or when this machine cannot ask (no rabbitmqctl, another node)."""
    try:
        answer = subprocess.run(["rabbitmqctl", "eval", DLX_SUPERVISOR_CHECK],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return answer.returncode == 0 and answer.stdout.strip() == "undefined"


BROKEN_BROKER = (
    "The shared RabbitMQ's dead-letter supervisor (rabbit_fifo_dlx_sup) is not running, so "
    "no quorum queue with at-least-once dead-lettering can start and every test that starts "
    "a service would hang. Restart the broker: rabbitmqctl stop; rabbitmq-server -detached")


@pytest.fixture(scope="session")
def vhost_pipeline(request: pytest.FixtureRequest, rabbit_manager: Any) -> Iterator[Any]:
    """Empty vhosts (nameko's `rabbit_config` takes one per test)."""
    yield from _vhosts(request, rabbit_manager, declare=False)


@pytest.fixture(scope="session")
def declared_vhost_pipeline(request: pytest.FixtureRequest, rabbit_manager: Any) -> Iterator[Any]:
    """Vhosts whose event exchanges, subscriber and parking queues are declared ahead, as
    `cxc migrate` declares them: for the tests that start the whole system. Starting a
    quorum queue is the broker's slowest step of a service's start; declared in the
    pipeline's background thread, it is done before the test that takes the vhost starts
    its services (they then find every queue there), and every queue has long finished
    starting when its vhost is deleted."""
    yield from _vhosts(request, rabbit_manager, declare=True)


@pytest.fixture(name="rabbit_config")
def rabbit_config_declared_ahead(request: pytest.FixtureRequest,
                                 declared_vhost_pipeline: Any) -> Iterator[dict[str, Any]]:
    """nameko's `rabbit_config` on a vhost of `declared_vhost_pipeline`: the conftest of a
    directory whose tests start the whole system imports it in place of nameko's."""
    uri = urlparse(request.config.getoption("RABBIT_AMQP_URI"))
    with declared_vhost_pipeline.get() as vhost:
        yield {"AMQP_URI": f"{uri.scheme}://{uri.netloc}/{vhost}", "username": uri.username,
               "vhost": vhost}


def _vhosts(request: pytest.FixtureRequest, rabbit_manager: Any, declare: bool) -> Iterator[Any]:
    if dead_letter_supervisor_gone():
        pytest.exit(BROKEN_BROKER, returncode=3)
    uri = urlparse(request.config.getoption("RABBIT_AMQP_URI"))

    def create() -> str:
        vhost = "nameko_test_" + "".join(random.choice(string.ascii_lowercase) for _ in range(10))
        rabbit_manager.create_vhost(vhost)
        rabbit_manager.set_vhost_permissions(vhost, uri.username, ".*", ".*", ".*")
        if declare:
            from common.events import EVENTS_BY_SOURCE
            from common.outbox import declare_topology

            try:
                for source in EVENTS_BY_SOURCE:
                    declare_topology(f"{uri.scheme}://{uri.netloc}/{vhost}", source)
            except Exception as exc:  # noqa: BLE001 - the services declare what they need anyway
                print(f"\ncould not declare the topology of the test vhost {vhost}: {exc!r}")
        return vhost

    def destroy(vhost: str) -> None:
        for attempt in range(9):
            try:
                rabbit_manager.delete_vhost(vhost)
                break
            except Exception as exc:  # noqa: BLE001 - nameko's client raises bare Exceptions
                if attempt == 8:  # a vhost left behind must not end the pipeline's thread
                    print(f"\ncould not delete the test vhost {vhost}: {exc}")
                    break
                eventlet.sleep(1)
        for key, pool in list(connections.items()):
            if isinstance(key, tuple) and len(key) > 4 and key[4] == vhost:
                pool.force_close_all()

    pipeline = GracefulPipeline(create, destroy, GRACE_SECONDS)
    with pipeline.run() as vhosts:
        yield vhosts
    if request.session.testsfailed and dead_letter_supervisor_gone():
        print(f"\n{BROKEN_BROKER}\n")
