"""The whole system over HTTP: each test on a vhost whose queues are declared ahead."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def rabbit_config(declared_rabbit_config: dict[str, Any]) -> dict[str, Any]:
    return declared_rabbit_config
