"""A RabbitMQ node of a test's own, on free ports, that the test may kill and restart
(the shared broker is never touched)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import psutil
from kombu import Connection

from tests.fixtures import free_port

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # the script without the privilege drop


class RabbitNode:
    def __init__(self, base: Path) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.name = f"cxcfault{secrets.token_hex(3)}@localhost"
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq.conf").write_text("")
        self.env = {
            **os.environ,
            "HOME": str(base),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(base / "pid"),
        }
        self.process: subprocess.Popen | None = None
        self.uri = f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self, timeout: float = 60) -> None:
        log = (self.base / "server.log").open("ab")
        self.process = subprocess.Popen([SERVER], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq exited; see {self.base / 'server.log'}")
            try:
                with Connection(self.uri, connect_timeout=1) as conn:
                    conn.connect()
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("rabbitmq did not start in time")

    def kill(self) -> None:
        """kill -9 of the node and everything it started."""
        if self.process is None:
            return
        try:
            tree = psutil.Process(self.process.pid)
            victims = [tree, *tree.children(recursive=True)]
        except psutil.NoSuchProcess:
            victims = []
        for proc in victims:
            try:
                proc.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        self.process.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(proc) for proc in victims):
            time.sleep(0.05)
        self.process = None


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
