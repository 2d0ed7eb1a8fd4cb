"""Root test configuration: eventlet first, then the real local services.

Each test run gets fresh PostgreSQL databases (dropped afterwards), each test a fresh
RabbitMQ vhost (nameko's rabbit_config), S3 is moto's server over HTTP and SMTP an
aiosmtpd server, both started here.
"""

import eventlet

eventlet.monkey_patch()

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

pytest_plugins = ["tests.fixtures"]

# Replace nameko's fixtures of the same names (see tests/broker_teardown.py for why).
from tests.broker_teardown import (  # noqa: E402, F401
    container_factory,
    declared_vhost_pipeline,
    vhost_pipeline,
)
