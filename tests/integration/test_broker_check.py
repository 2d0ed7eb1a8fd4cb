"""`make run` and every process say what is wrong with the broker: not there, wrong
credentials, or a virtual host the user may not use."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cli.broker import broker_problem
from tests.fixtures import free_port

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("TEST_AMQP_HOST", "127.0.0.1:5672")


def test_a_running_broker_that_takes_us():
    assert broker_problem(f"amqp://guest:guest@{BROKER}/") is None


def test_refused_credentials_are_named_as_such():
    problem = broker_problem(f"amqp://guest:not-{secrets.token_hex(3)}@{BROKER}/")
    assert "refused the credentials of user 'guest'" in problem
    assert "not reachable" not in problem


def test_a_virtual_host_the_user_may_not_use():
    vhost = f"missing-{secrets.token_hex(3)}"
    assert f"virtual host '{vhost}'" in broker_problem(f"amqp://guest:guest@{BROKER}/{vhost}")


def test_nothing_listening_is_not_reachable():
    assert "not reachable" in broker_problem(f"amqp://guest:guest@127.0.0.1:{free_port()}/")


def test_a_service_started_with_wrong_credentials_exits_with_one_line(tmp_path: Path):
    env = {**os.environ, "AMQP_URI": f"amqp://guest:wrong-{secrets.token_hex(3)}@{BROKER}/",
           "CXC_VAR_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "cli.serve", "registration"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "RabbitMQ at 127.0.0.1:5672 refused the credentials of user 'guest': the broker runs, "
        "but AMQP_URI's user or password is wrong (in .env or the environment)."]
