"""A service whose broker connection is killed says so on its readiness probe and in its
metrics, and recovers by itself; another service on the same broker stays ready.

Both services run as real processes (`python -m cli.serve`, as in production) against the
fault tests' own RabbitMQ node (tests/faults/conftest.py), in a vhost of this test's own, each
under a broker user of its own. The fault: the
broker closes registration's connections and refuses its user the vhost until the test
gives the permissions back, so registration stays disconnected long enough to be seen.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures import free_port
from tests.rabbit_node import SERVER, RabbitNode

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(not Path(SERVER).exists(),
                       reason="needs a local rabbitmq-server to run a node of its own"),
]

ROOT = Path(__file__).resolve().parents[2]
CTL = str(Path(SERVER).with_name("rabbitmqctl"))


def ctl(node: RabbitNode, *args: str) -> str:
    done = subprocess.run([CTL, "-n", node.name, "-q", *args], env=node.env, capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout


def wait_until(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except requests.RequestException as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def metric(port: int, name: str, service: str) -> float | None:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    prefix = f'{name}{{service="{service}"}} '
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix):])
    return None


def readyz(port: int) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)


VHOST = "readiness"


@pytest.fixture
def node(rabbit_node: RabbitNode) -> RabbitNode:
    """The package's node (tests/faults/conftest.py), with this test's vhost and users (left
    there: no other test uses them, and each rabbitmqctl call boots an Erlang VM)."""
    ctl(rabbit_node, "add_vhost", VHOST)
    for service in ("registration", "payments"):
        ctl(rabbit_node, "add_user", f"svc_{service}", "secret-of-the-test")
        ctl(rabbit_node, "set_permissions", "-p", VHOST, f"svc_{service}", ".*", ".*", ".*")
    return rabbit_node


@pytest.fixture
def services(node: RabbitNode, database_urls: dict[str, str], keys_dir: Path,
             tmp_path: Path) -> Iterator[dict[str, int]]:
    ports = {"registration": free_port(), "payments": free_port()}
    procs = []
    for service, port in ports.items():
        env = {**os.environ,
               "AMQP_URI": f"amqp://svc_{service}:secret-of-the-test@127.0.0.1:{node.port}/{VHOST}",
               f"DATABASE_URL_{service.upper()}": database_urls[service],
               "JWT_KEYS_DIR": str(keys_dir), "DOCUMENT_SEALING_DIR": str(keys_dir),
               "CXC_VAR_DIR": str(tmp_path / "var"), "HEALTH_PORT": str(port),
               "LOG_FORMAT": "plain"}
        log = (tmp_path / f"{service}.log").open("ab")
        procs.append(subprocess.Popen([sys.executable, "-m", "cli.serve", service], cwd=ROOT,
                                      env=env, stdout=log, stderr=subprocess.STDOUT))
    try:
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_a_killed_broker_connection_fails_readiness_until_it_is_back(node: RabbitNode,
                                                                     services: dict[str, int]):
    registration, payments = services["registration"], services["payments"]
    for port in (registration, payments):
        wait_until("the services to be ready", lambda port=port: readyz(port).status_code == 200)
    assert requests.get(f"http://127.0.0.1:{registration}/livez", timeout=5).status_code == 200
    assert metric(registration, "cxc_broker_connected", "registration") == 1
    assert metric(registration, "cxc_ready", "registration") == 1
    reconnects_before = metric(registration, "cxc_broker_reconnects_total", "registration") or 0

    # The fault: registration's connections go, and its user may not come back for now.
    ctl(node, "clear_permissions", "-p", VHOST, "svc_registration")
    for line in ctl(node, "list_connections", "user", "pid").splitlines():
        user, _, pid = line.partition("\t")
        if user == "svc_registration":
            ctl(node, "close_connection", pid.strip(), "readiness test")

    down = wait_until("registration's readiness to fail",
                      lambda: (r := readyz(registration)).status_code == 503 and r.json())
    assert down["status"] == "not ready"
    assert down["checks"]["broker"] != "ok"
    assert down["checks"]["database"] == "ok"
    assert metric(registration, "cxc_ready", "registration") == 0
    assert metric(registration, "cxc_broker_connected", "registration") == 0
    # Alive all the same (no restart wanted), and the other service is untouched.
    assert requests.get(f"http://127.0.0.1:{registration}/livez", timeout=5).status_code == 200
    assert readyz(payments).status_code == 200

    ctl(node, "set_permissions", "-p", VHOST, "svc_registration", ".*", ".*", ".*")
    up = wait_until("registration's readiness to recover",
                    lambda: (r := readyz(registration)).status_code == 200 and r.json())
    assert up["checks"]["broker"] == "ok"
    assert metric(registration, "cxc_ready", "registration") == 1
    assert metric(registration, "cxc_broker_connected", "registration") == 1
    assert metric(registration, "cxc_broker_reconnects_total", "registration") > reconnects_before
