"""Run one service (or the gateway) as its own process: `python -m cli.serve registration`."""

import warnings

warnings.filterwarnings("ignore", message=".*Eventlet is deprecated.*")

import eventlet  # noqa: E402

eventlet.monkey_patch()

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

import importlib  # noqa: E402
import logging.config  # noqa: E402
import sys  # noqa: E402

from nameko.cli.run import run  # noqa: E402

from cli.broker import require_broker  # noqa: E402
from common.config import build_config  # noqa: E402

SERVICE_CLASSES = {
    "registration": "services.registration.service:RegistrationService",
    "matching": "services.matching.service:MatchingService",
    "gateway": "gateway.service:GatewayService",
}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in SERVICE_CLASSES:
        print(f"usage: python -m cli.serve {{{'|'.join(SERVICE_CLASSES)}}}", file=sys.stderr)
        return 2
    name = argv[0]
    config = build_config(name)
    logging.config.dictConfig(config["LOGGING"])
    require_broker(config["AMQP_URI"])
    module_name, class_name = SERVICE_CLASSES[name].split(":")
    service_cls = getattr(importlib.import_module(module_name), class_name)
    run([service_cls], config)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
