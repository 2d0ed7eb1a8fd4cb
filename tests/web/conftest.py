"""Fixtures of the web application's tests."""

from __future__ import annotations

import pytest

# The whole system runs under the pages: each test on a vhost whose queues are declared ahead.
from tests.broker_teardown import rabbit_config_declared_ahead  # noqa: F401


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
