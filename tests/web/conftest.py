"""Fixtures of the web application's tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def rabbit_config(declared_rabbit_config: dict[str, Any]) -> dict[str, Any]:
    """The whole system runs under the pages: queues declared ahead (tests/broker_teardown.py)."""
    return declared_rabbit_config


@pytest.fixture
def api(api):
    """Like a browser on localhost (which counts as a secure context), send the Secure
    cookies (the session, CSRF) back over plain HTTP."""
    send = api.request

    def request(*args, **kwargs):
        response = send(*args, **kwargs)
        for cookie in api.cookies:
            cookie.secure = False
        return response

    api.request = request
    return api
