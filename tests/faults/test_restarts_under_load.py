"""The issue's fault test: writes keep coming while each service is killed (kill -9) and the
broker is killed and restarted. Every process serves again by itself; with idempotency
keys on the client's retries nothing is lost, nothing doubled, and no answer is a 500.

The services run as real processes under `python -m cli.serve --restart` (what `make run`
uses) against the fault tests' own RabbitMQ node (tests/faults/conftest.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import eventlet
import psutil
import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.config import SERVICES
from services.matching.models import Message
from services.matching.models import OutboxEvent as MatchingOutbox
from services.registration.models import Account
from tests.fixtures import free_port
from tests.helpers import PASSWORD, login, profile_event, publish_event, unique_email
from tests.rabbit_node import SERVER, RabbitNode

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(not Path(SERVER).exists(),
                       reason="needs a local rabbitmq-server to run a node of its own"),
]

ROOT = Path(__file__).resolve().parents[2]
RETRYABLE = {502, 503, 504}


class Cluster:
    def __init__(self, base: Path, node: RabbitNode, database_urls: dict[str, str], keys_dir: Path):
        self.base, self.node = base, node
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "AMQP_URI": node.uri,
            **{f"DATABASE_URL_{name.upper()}": url for name, url in database_urls.items()},
            "JWT_KEYS_DIR": str(keys_dir),
            "CXC_VAR_DIR": str(base / "var"),
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{self.port}",
            "RPC_TIMEOUT_SECONDS": "3",
            "OUTBOX_POLL_SECONDS": "0.5",
            "RATE_LIMIT_SIGNUP_PER_HOUR": "100000",
            "RATE_LIMIT_LOGIN_PER_MINUTE": "100000",
            "LOG_FORMAT": "plain",
            "PYTHONWARNINGS": "ignore",
        }
        self.supervisors: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        log = (self.base / f"{name}.log").open("ab")
        self.supervisors[name] = subprocess.Popen(
            [sys.executable, "-m", "cli.serve", "--restart", name], cwd=ROOT, env=self.env,
            stdout=log, stderr=subprocess.STDOUT)

    def child(self, name: str) -> psutil.Process:
        children = psutil.Process(self.supervisors[name].pid).children()
        assert children, f"{name} has no running child"
        return children[0]

    def kill_child(self, name: str) -> int:
        child = self.child(name)
        child.send_signal(signal.SIGKILL)
        return child.pid

    def stop(self) -> None:
        for process in self.supervisors.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.supervisors.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                for child in psutil.Process(process.pid).children(recursive=True):
                    child.kill()
                process.kill()

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:]
                         for path in sorted(self.base.glob("*.log")))


def wait_until(predicate, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except requests.RequestException:
            value = None
        if value:
            return value
        eventlet.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _child_pid(cluster: Cluster, name: str) -> int | None:
    children = psutil.Process(cluster.supervisors[name].pid).children()
    return children[0].pid if children else None


def healthy(url: str) -> bool:
    return requests.get(f"{url}/health", timeout=5).json().get("status") == "ok"


@pytest.fixture
def cluster(tmp_path: Path, database_urls: dict[str, str], keys_dir: Path,
            rabbit_node: RabbitNode) -> Iterator[Cluster]:
    """Every service and the gateway on the package's node (tests/faults/conftest.py), in its
    default vhost, which no other test uses."""
    node = rabbit_node
    cluster = Cluster(tmp_path, node, database_urls, keys_dir)
    try:
        for name in (*SERVICES, "gateway"):
            cluster.start(name)
        wait_until(lambda: healthy(cluster.url), 60, "the first /health ok")
        yield cluster
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()


class Client:
    """Retries each write with its idempotency key until it is answered for good."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: Counter[int] = Counter()
        self.created: dict[str, list[str]] = {"accounts": [], "messages": []}
        self.abort = False  # the test failed: stop retrying

    def create(self, kind: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        key = {"Idempotency-Key": str(uuid.uuid4())}
        with requests.Session() as session:
            while not self.abort:
                try:
                    response = session.post(self.url + path, json=body, headers={**headers, **key},
                                            timeout=10)
                except requests.RequestException:
                    self.statuses["connection error"] += 1
                    eventlet.sleep(0.2)
                    continue
                self.statuses[response.status_code] += 1
                if response.status_code in RETRYABLE:
                    eventlet.sleep(0.2)
                    continue
                # A sign-up answers 202 without an id (it tells nothing about the address).
                assert response.status_code in (201, 202), response.text
                self.created[kind].append(response.json().get("id") or body["email"])
                return


def _set_up_a_conversation(cluster: Cluster) -> tuple[dict[str, str], str]:
    """Two accepted participants (their acceptance published as registration would) with
    an accepted contact; returns the visitor's headers and the contact's id."""
    api = requests.Session()
    parties = []
    for role, country in (("visitor", "PT"), ("host", "DE")):
        email = unique_email(role)
        created = api.post(f"{cluster.url}/api/v1/accounts", timeout=10,
                           json={"email": email, "password": PASSWORD, "full_name": role})
        assert created.status_code == 202, created.text
        headers = _login(api, cluster.url, email)
        account_id = api.get(f"{cluster.url}/api/v1/me", headers=headers, timeout=10).json()["id"]
        registration_id = str(uuid.uuid4())
        publish_event({"AMQP_URI": cluster.node.uri}, "registration", profile_event(
            "registration_accepted", registration_id, account_id, country, [role]))
        parties.append((headers, registration_id))
    (visitor, _), (host, host_registration) = parties
    wait_until(lambda: api.get(f"{cluster.url}/api/v1/catalogue/{host_registration}",
                               headers=visitor, timeout=5).status_code == 200
               and api.get(f"{cluster.url}/api/v1/me", headers=host, timeout=5).ok,
               20, "both participants in the catalogue")
    asked = api.post(f"{cluster.url}/api/v1/contacts", headers=visitor, timeout=10,
                     json={"registration_id": host_registration, "message": "Hello"})
    assert asked.status_code == 201, asked.text
    accepted = api.post(f"{cluster.url}/api/v1/contacts/{asked.json()['id']}/accept",
                        headers=host, timeout=10)
    assert accepted.status_code == 200, accepted.text
    return visitor, asked.json()["id"]


def _login(api: requests.Session, url: str, email: str) -> dict[str, str]:
    class Base:
        def post(self, path: str, **kwargs: Any) -> requests.Response:
            return api.post(url + path, timeout=10, **kwargs)

    return login(Base(), email)


def _count(engine: Any, model: Any, *where: Any) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_services_survive_kills_and_a_broker_restart_without_losing_or_doubling(cluster, db_engines):
    try:
        _load_with_faults(cluster, db_engines)
    except BaseException:
        print(cluster.logs())
        raise


def _load_with_faults(cluster: Cluster, db_engines: dict[str, Any]) -> None:
    visitor, contact_id = _set_up_a_conversation(cluster)
    client = Client(cluster.url)
    running = True

    def keep_writing(worker: int) -> None:
        n = 0
        while running:
            n += 1
            client.create("accounts", "/api/v1/accounts", {
                "email": unique_email(f"load{worker}"), "password": PASSWORD, "full_name": "L"}, {})
            client.create("messages", f"/api/v1/contacts/{contact_id}/messages",
                          {"body": f"w{worker}-{n}"}, visitor)

    def progress(more: int) -> None:
        target = {kind: len(ids) + more for kind, ids in client.created.items()}
        wait_until(lambda: all(len(client.created[k]) >= v for k, v in target.items()), 45,
                   f"{more} more writes of each kind")

    pool = eventlet.GreenPool()
    for worker in range(4):
        pool.spawn(keep_writing, worker)
    finished = False
    try:
        progress(5)
        killed = {name: cluster.kill_child(name) for name in SERVICES}
        progress(5)  # restarted by their supervisors and serving
        wait_until(lambda: all(_child_pid(cluster, name) not in (None, pid)
                               for name, pid in killed.items()), 30, "every service restarted")
        before = {name: cluster.child(name).pid for name in cluster.supervisors}
        cluster.node.kill()
        eventlet.sleep(0.5)  # writes meet a dead broker: 503s, retried
        cluster.node.start()
        progress(5)
        # Every process lived through the broker's restart: none was restarted.
        assert {name: cluster.child(name).pid for name in cluster.supervisors} == before
        cluster.kill_child("gateway")
        progress(5)
        finished = True
    finally:
        running = False
        client.abort = not finished
        pool.waitall()

    wait_until(lambda: healthy(cluster.url), 30, "/health ok after the faults")
    email = unique_email("after")
    assert requests.post(f"{cluster.url}/api/v1/accounts", timeout=10, json={
        "email": email, "password": PASSWORD, "full_name": "After"}).status_code == 202
    thread = requests.get(f"{cluster.url}/api/v1/contacts/{contact_id}/messages?per_page=100",
                          headers=visitor, timeout=10)
    assert thread.status_code == 200

    print("answers seen:", dict(client.statuses))
    assert client.statuses[500] == 0, client.statuses
    assert client.statuses[503] > 0, client.statuses  # the broker outage was seen
    accounts, messages = client.created["accounts"], client.created["messages"]
    assert len(set(accounts)) == len(accounts) and len(set(messages)) == len(messages)
    registration, matching = db_engines["registration"], db_engines["matching"]
    assert _count(registration, Account, Account.email.like("load%")) == len(accounts)
    assert _count(matching, Message, Message.contact_id == contact_id) == len(messages)
    assert int(thread.headers["X-Total-Count"]) == len(messages)
    # Every message's event left the outbox once the relay was back (none lost).
    wait_until(lambda: _count(matching, MatchingOutbox, MatchingOutbox.event_type == "message_posted",
                              MatchingOutbox.sent_at.is_(None)) == 0, 20, "the outbox drained")
    assert _count(matching, MatchingOutbox,
                  MatchingOutbox.event_type == "message_posted") == len(messages)
