"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import requests
from sqlalchemy import create_engine, text

from common.auth import TokenService
from common.config import SERVICES, build_config
from common.db import normalise_url
from common.migrate import upgrade

PG_ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@localhost:5432/postgres")
# Reference tables are seeded once per run; everything else is emptied after each test.
KEEP_TABLES = {"countries", "partnerships", "alembic_version"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def _admin(sql: str) -> None:
    conn = psycopg2.connect(PG_ADMIN_DSN)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def database_urls() -> Iterator[dict[str, str]]:
    run_id = secrets.token_hex(4)
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    urls = {}
    for service in SERVICES:
        name = f"cxc_test_{run_id}_{service}"
        _admin(f'CREATE DATABASE "{name}"')
        urls[service] = f"{base}/{name}"
        upgrade(service, urls[service])
    _seed_reference(urls["registration"])
    yield urls
    for url in urls.values():
        name = url.rsplit("/", 1)[1]
        _admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
               f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")
        _admin(f'DROP DATABASE IF EXISTS "{name}"')


def _seed_reference(url: str) -> None:
    from sqlalchemy.orm import Session

    from services.registration.repository import seed_reference

    engine = create_engine(normalise_url(url))
    with Session(engine) as session:
        seed_reference(session)
        session.commit()
    engine.dispose()


@pytest.fixture(scope="session")
def db_engines(database_urls: dict[str, str]) -> Iterator[dict[str, Any]]:
    engines = {name: create_engine(normalise_url(url)) for name, url in database_urls.items()}
    yield engines
    for engine in engines.values():
        engine.dispose()


@pytest.fixture(autouse=True)
def clean_databases(request: pytest.FixtureRequest) -> Iterator[None]:
    if "database_urls" not in request.fixturenames:
        yield
        return
    engines = request.getfixturevalue("db_engines")
    yield
    for engine in engines.values():
        _truncate(engine)


def _truncate(engine: Any, attempts: int = 5) -> None:
    """Empties a service's tables after a test. A worker of a stopped container may still be
    finishing a query; PostgreSQL may then pick the TRUNCATE as a deadlock's victim, and the
    next attempt, once that query is done, goes through."""
    from sqlalchemy.exc import OperationalError

    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                tables = [row[0] for row in conn.execute(text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))]
                mutable = [f'"{t}"' for t in tables if t not in KEEP_TABLES]
                if not mutable:
                    return
                # A TRUNCATE gives each table and index new files, which costs even when they
                # are empty (most are, after a test): only tables with rows are truncated. The
                # lock first, as TRUNCATE's own: whatever is still writing finishes before the
                # look at what has rows.
                # A lock never granted would hang the whole run until pytest-timeout kills it:
                # after 10 s the attempt fails, and what still holds a lock (a stopped test's
                # connection left in a transaction) is ended before the next one.
                conn.execute(text("SET LOCAL lock_timeout = '10s'"))
                conn.execute(text(f"LOCK TABLE {', '.join(mutable)} IN ACCESS EXCLUSIVE MODE"))
                filled = [row[0] for row in conn.execute(text(" UNION ALL ".join(
                    f"SELECT '{t}' WHERE EXISTS (SELECT FROM {t})" for t in mutable)))]
                if filled:
                    conn.execute(text(f"TRUNCATE {', '.join(filled)} CASCADE"))
            return
        except OperationalError as exc:
            if attempt == attempts - 1:
                raise
            if "lock timeout" in str(exc):
                _end_idle_transactions(engine)
            time.sleep(0.2 * (attempt + 1))


def _end_idle_transactions(engine: Any) -> None:
    with engine.connect() as conn:
        conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
            "current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"))


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from common.auth import generate_key

    directory = tmp_path_factory.mktemp("keys")
    generate_key(directory)
    return directory


class SmtpServer:
    """A real SMTP server (aiosmtpd, its own process) that keeps what it receives in a Maildir;
    `stop()` and `start()` take it down and back on the same port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.maildir = directory / "maildir"
        self.log_path = directory / "aiosmtpd.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
                 "-c", "aiosmtpd.handlers.Mailbox", str(self.maildir)],
                stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def messages(self) -> list[Any]:
        import mailbox

        if not self.maildir.exists():
            return []
        return list(mailbox.Maildir(self.maildir, create=False))

    @staticmethod
    def parts(message: Any) -> dict[str, str]:
        """A received message's text parts by content type (text/plain, text/html)."""
        return {part.get_content_type(): part.get_payload(decode=True).decode(
                    part.get_content_charset() or "utf-8")
                for part in message.walk() if not part.is_multipart()}

    def clear(self) -> None:
        import mailbox

        if self.maildir.exists():
            box = mailbox.Maildir(self.maildir, create=False)
            for key in list(box.keys()):
                box.discard(key)


@pytest.fixture(scope="session")
def smtp_server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path_factory.mktemp("smtp"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server(smtp_server_process: SmtpServer) -> Iterator[SmtpServer]:
    """The run's SMTP server, empty at the start of each test (and running again at its end)."""
    smtp_server_process.clear()
    yield smtp_server_process
    if smtp_server_process.proc is None:
        smtp_server_process.start()


@pytest.fixture
def config(rabbit_config: dict, database_urls: dict[str, str], s3_endpoint: str,
           keys_dir: Path, smtp_server: SmtpServer) -> dict[str, Any]:
    cfg = build_config()
    cfg.update(rabbit_config)
    cfg["DATABASE_URLS"] = dict(database_urls)
    cfg["WEB_SERVER_ADDRESS"] = f"127.0.0.1:{free_port()}"
    cfg["RPC_TIMEOUT_SECONDS"] = 10
    cfg["OUTBOX_POLL_SECONDS"] = 0.5
    # Several containers per test, each with a write and a read pool and a LISTEN connection:
    # small pools keep a run well inside PostgreSQL's default 100 connections.
    cfg["DB_POOL_SIZE"] = 5
    cfg["STORAGE"] = {**cfg["STORAGE"], "endpoint": s3_endpoint, "access_key": "testing",
                      "secret_key": "testing", "bucket": f"cxc-{secrets.token_hex(4)}",
                      "secure": False}
    cfg["JWT"] = {**cfg["JWT"], "keys_dir": str(keys_dir)}
    cfg["AGREEMENTS"] = {**cfg["AGREEMENTS"], "sealing_dir": str(keys_dir)}
    cfg["MATCHING"] = {**cfg["MATCHING"], "index_refresh_seconds": 0.1}
    cfg["NOTIFICATIONS"] = {
        **cfg["NOTIFICATIONS"], "email_transport": "smtp", "poll_seconds": 0.5,
        "retry_base_seconds": 0.2, "retry_cap_seconds": 1, "max_attempts": 4, "lease_seconds": 5,
        "smtp": {**cfg["NOTIFICATIONS"]["smtp"], "host": "127.0.0.1", "port": smtp_server.port,
                 "security": "none", "timeout_seconds": 5}}
    # A local receiver (http://127.0.0.1) is the tests' webhook endpoint; the SSRF tests
    # turn allow_insecure off again (tests/e2e/test_webhooks.py).
    cfg["WEBHOOKS"] = {
        **cfg["WEBHOOKS"], "allow_insecure": True, "keys_dir": str(keys_dir), "poll_seconds": 0.2,
        "retry_base_seconds": 0.2, "retry_cap_seconds": 1, "max_attempts": 4, "lease_seconds": 5,
        "connect_timeout_seconds": 2, "read_timeout_seconds": 3}
    cfg.pop("LOGGING", None)
    return cfg


@pytest.fixture
def tokens(config: dict[str, Any]) -> TokenService:
    return TokenService(config["JWT"], generate=True)


@pytest.fixture
def registration_container(container_factory: Any, config: dict[str, Any]) -> Any:
    from services.registration.service import RegistrationService

    container = container_factory(RegistrationService, config)
    container.start()
    return container


@pytest.fixture
def matching_container(container_factory: Any, config: dict[str, Any]) -> Any:
    from services.matching.service import MatchingService

    container = container_factory(MatchingService, config)
    container.start()
    return container


@pytest.fixture
def agreements_container(container_factory: Any, config: dict[str, Any]) -> Any:
    from services.agreements.service import AgreementsService

    container = container_factory(AgreementsService, config)
    container.start()
    return container


@pytest.fixture
def payments_container(container_factory: Any, config: dict[str, Any]) -> Any:
    from services.payments.service import PaymentsService

    container = container_factory(PaymentsService, config)
    container.start()
    return container


@pytest.fixture
def notifications_container(container_factory: Any, config: dict[str, Any]) -> Any:
    from services.notifications.service import NotificationsService

    container = container_factory(NotificationsService, config)
    container.start()
    return container


@pytest.fixture
def lump_sum_table(db_engines: dict[str, Any]) -> None:
    """The shipped lump-sum table in payments' database (emptied after each test, like any
    table a test may change)."""
    from sqlalchemy.orm import Session

    from services.payments.lump_sums import shipped_table
    from services.payments.repository import seed_rates

    with Session(db_engines["payments"]) as session:
        seed_rates(session, shipped_table())
        session.commit()


@pytest.fixture
def gateway_url(container_factory: Any, config: dict[str, Any], registration_container: Any,
                matching_container: Any, agreements_container: Any, payments_container: Any) -> str:
    """The gateway and the four services most tests need. Notifications reacts to every event
    (and asks registration about each), so only the modules that need it start it:
    `pytestmark = pytest.mark.usefixtures("notifications_container")`."""
    from gateway.service import GatewayService

    container = container_factory(GatewayService, config)
    container.start()
    return f"http://{config['WEB_SERVER_ADDRESS']}"


class Api(requests.Session):
    """requests against the gateway, relative to its base URL (and the system's config, for
    helpers that play another service, e.g. reading an account email's link)."""

    def __init__(self, base: str, config: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.base = base
        self.config = config

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return super().request(method, self.base + url, *args, **kwargs)


@pytest.fixture
def web_session(gateway_url: str, config: dict[str, Any]) -> Iterator[Api]:
    """nameko's own fixture needs werkzeug.urls.url_join, gone in werkzeug 3."""
    with Api(gateway_url, config) as session:
        yield session


@pytest.fixture
def api(web_session: Api) -> Api:
    return web_session
