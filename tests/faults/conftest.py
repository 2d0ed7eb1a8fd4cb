"""The fault tests' RabbitMQ node: one for the package, since a node's first boot (making
its database) is most of a fault test's set-up. Each test works in a vhost of its own on it
and may kill and restart it; a test that finds it killed starts it again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rabbit_node import SERVER, RabbitNode


@pytest.fixture(scope="package")
def shared_rabbit_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitNode]:
    if not Path(SERVER).exists():
        pytest.skip("needs a local rabbitmq-server to run a node of its own")
    node = RabbitNode(tmp_path_factory.mktemp("rabbit"))
    try:
        yield node
    finally:
        node.kill()


@pytest.fixture
def rabbit_node(shared_rabbit_node: RabbitNode) -> RabbitNode:
    if shared_rabbit_node.process is None:
        shared_rabbit_node.start()
    return shared_rabbit_node
