"""Keeps a process's list of signed-out sessions current.

Registration records every sign-out (and every "all sessions of this account before now")
in its database and publishes it as an event. Each process that verifies tokens — every
gateway and every service — binds a private, exclusive queue to those two event types and
applies what arrives to its in-memory `RevocationList`; a revoked token is refused a few
milliseconds after the outbox relay published the event. On (re)connecting, before trusting
the feed, the process asks registration for the entries still in force (`list_revocations`),
so a process started or reconnected after a sign-out knows it too. Entries are forgotten
once every token they could cover has expired (access tokens are short-lived).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import eventlet
from kombu import Connection, Queue, binding

from common.auth import RevocationList
from common.events import SESSION_EVENTS, event_exchange

log = logging.getLogger(__name__)

REVOCATION_EVENTS = SESSION_EVENTS
_SNAPSHOT_TIMEOUT = 5.0


class RevocationFeed:
    def __init__(self, config: dict[str, Any], revoked: RevocationList) -> None:
        self.amqp_uri = config["AMQP_URI"]
        self.config = config
        self.revoked = revoked
        self.service = config.get("SERVICE_NAME") or "verifier"
        self._threads: list[Any] = []
        self._running = False
        self.connected = eventlet.event.Event()

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._threads = [eventlet.spawn(self._consume_forever)]

    def stop(self) -> None:
        self._running = False
        for thread in self._threads:
            thread.kill()
        self._threads = []

    def apply(self, entry: dict[str, Any]) -> None:
        self.revoked.apply(entry)

    # --- the feed -------------------------------------------------------------------------

    def _consume_forever(self) -> None:
        pause = 0.5
        while self._running:
            try:
                self._consume()
                pause = 0.5
            except Exception as exc:  # the broker went away: reconnect, then catch up again
                log.warning("revocation feed interrupted (%s); reconnecting in %.1fs",
                            exc.__class__.__name__, pause)
                eventlet.sleep(pause)
                pause = min(pause * 2, 10.0)

    def _consume(self) -> None:
        exchange = event_exchange("registration")
        queue = Queue(f"revocations.{self.service}.{uuid.uuid4().hex[:12]}", exchange=exchange,
                      bindings=[binding(exchange, routing_key=event) for event in REVOCATION_EVENTS],
                      exclusive=True, auto_delete=True, durable=False)
        with Connection(self.amqp_uri, heartbeat=30) as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.channel()
            exchange(channel).declare()
            with conn.Consumer(queue, callbacks=[self._on_message], accept=["json"], no_ack=True):
                # Bound first, then the snapshot: nothing revoked in between is missed.
                snapshot = eventlet.spawn(self._catch_up)
                self._threads.append(snapshot)
                last_prune = time.monotonic()
                while self._running:
                    try:
                        conn.drain_events(timeout=1)
                    except TimeoutError:  # socket.timeout: nothing arrived this second
                        conn.heartbeat_check()
                    if time.monotonic() - last_prune > 60:
                        self.revoked.forget_expired()
                        last_prune = time.monotonic()

    def _on_message(self, body: Any, message: Any) -> None:
        if isinstance(body, dict):
            self.apply(body)

    def _catch_up(self) -> None:
        """Registration's entries in force, retried until it answers (it may start later)."""
        from nameko.standalone.rpc import ClusterRpcProxy

        pause = 1.0
        while self._running:
            try:
                with ClusterRpcProxy(self.config, timeout=_SNAPSHOT_TIMEOUT) as proxy:
                    for entry in proxy.registration.list_revocations():
                        self.apply(entry)
                if not self.connected.ready():
                    self.connected.send(True)
                return
            except Exception as exc:
                log.info("revocations not fetched yet (%s); retrying in %.0fs",
                         exc.__class__.__name__, pause)
                eventlet.sleep(pause)
                pause = min(pause * 2, 30.0)
