"""`python -m bench.gateway.serve_echo <echo|bare_http>`: one process, like cli.serve (`echo`
runs the plain echo and `echo_read` side by side)."""

import eventlet

eventlet.monkey_patch()

import logging.config  # noqa: E402
import sys  # noqa: E402

from nameko.cli.run import run  # noqa: E402

from bench.gateway.echo import BareHttp, Echo, EchoRead  # noqa: E402
from common.config import build_config  # noqa: E402

if __name__ == "__main__":
    config = build_config()
    logging.config.dictConfig(config["LOGGING"])
    run({"echo": [Echo, EchoRead], "bare_http": [BareHttp]}[sys.argv[1]], config)
