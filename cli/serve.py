"""Run one service (or the gateway) as its own process.

    python -m cli.serve registration             # the service itself
    python -m cli.serve --restart registration   # ... supervised: restarted when it exits

`--restart` (what the Procfile uses) runs the service in a child process and starts it
again, with a growing pause, whenever it exits with an error or is killed; honcho stops
every process as soon as one exits, so without it one crashed service would stop them
all. SIGTERM and SIGINT are passed on to the child, and the supervisor exits with it.

Each process gets a health port when HEALTH_PORT is set (`/livez`, `/readyz`, `/metrics`,
common.health) and says in one log line when it is ready.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import time

SERVICE_CLASSES = {
    "registration": "services.registration.service:RegistrationService",
    "matching": "services.matching.service:MatchingService",
    "agreements": "services.agreements.service:AgreementsService",
    "payments": "services.payments.service:PaymentsService",
    "notifications": "services.notifications.service:NotificationsService",
    "gateway": "gateway.service:GatewayService",
}
BACKOFF_START, BACKOFF_MAX = 0.5, 30.0
STABLE_SECONDS = 60.0  # a child that ran this long starts the backoff over
STOP_GRACE_SECONDS = 10  # after SIGTERM/SIGINT, then SIGKILL


def serve(name: str) -> int:
    import eventlet

    eventlet.monkey_patch()
    from psycogreen.eventlet import patch_psycopg

    patch_psycopg()

    import importlib

    from cli.broker import require_broker
    from common.config import build_config
    from common.health import with_health
    from common.logs import configure

    config = build_config(name)
    configure(config)
    require_broker(config["AMQP_URI"])
    module_name, class_name = SERVICE_CLASSES[name].split(":")
    service_cls = with_health(getattr(importlib.import_module(module_name), class_name))
    _run(name, service_cls, config)
    return 0


def _run(name: str, service_cls: type, config: dict) -> None:
    """nameko's `run`, saying once when the service is ready and stopping quietly."""
    import errno
    import logging

    import eventlet
    from nameko.runners import ServiceRunner

    from common.health import HealthServer

    runner = ServiceRunner(config)
    runner.add_service(service_cls)

    def shutdown(_signum: int, _frame: object) -> None:
        eventlet.spawn_n(runner.stop)  # signal handlers may not block on eventlet

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    runner.start()
    health = next((ext.port for container in runner.containers for ext in container.extensions
                   if isinstance(ext, HealthServer)), None)
    where = f"{config['WEB_SERVER_ADDRESS']}" if name == "gateway" else "RabbitMQ"
    logging.getLogger("cli.serve").info(
        "%s ready (serving on %s%s)", name, where,
        f"; /livez /readyz /metrics on :{health}" if health else "")
    waiter = eventlet.spawn(runner.wait)
    while True:
        try:
            waiter.wait()
            return
        except OSError as exc:  # a signal interrupted the hub's wait
            if exc.errno != errno.EINTR:
                raise


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the supervisor itself is killed (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def supervise(name: str) -> int:
    stopping = False
    child: subprocess.Popen | None = None

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)
            signal.alarm(STOP_GRACE_SECONDS)

    def kill_child(_signum: int, _frame: object) -> None:
        # nameko's graceful stop can hang (a broker gone for good): stop for real.
        if child is not None and child.poll() is None:
            print(f"cli.serve: {name} did not stop in {STOP_GRACE_SECONDS}s; killing it",
                  file=sys.stderr, flush=True)
            child.kill()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGALRM, kill_child)
    backoff = BACKOFF_START
    while True:
        started = time.monotonic()
        # Its own session: a Ctrl-C reaches the child once, through us.
        child = subprocess.Popen([sys.executable, "-m", "cli.serve", name],  # noqa: S603
                                 start_new_session=True, preexec_fn=_die_with_parent)
        code = child.wait()
        if stopping or code == 0:
            return 0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else code
        if time.monotonic() - started > STABLE_SECONDS:
            backoff = BACKOFF_START
        print(f"cli.serve: {name} exited with {code}; restarting in {backoff:.1f}s",
              file=sys.stderr, flush=True)
        deadline = time.monotonic() + backoff
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        if stopping:
            return 0
        backoff = min(backoff * 2, BACKOFF_MAX)


def main(argv: list[str]) -> int:
    restart = "--restart" in argv
    names = [arg for arg in argv if arg != "--restart"]
    if len(names) != 1 or names[0] not in SERVICE_CLASSES:
        print(f"usage: python -m cli.serve [--restart] {{{'|'.join(SERVICE_CLASSES)}}}",
              file=sys.stderr)
        return 2
    return supervise(names[0]) if restart else serve(names[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
