"""The whole system over HTTP: each test on a vhost whose queues are declared ahead."""

from tests.broker_teardown import rabbit_config_declared_ahead  # noqa: F401
