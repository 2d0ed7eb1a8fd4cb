"""The email worker: in every notifications process, a green thread that claims due messages
from the queue, sends them and records the outcome. It wakes when a committed transaction
queued an email, and otherwise every EMAIL_POLL_SECONDS (which also takes up retries whose
back-off is over and messages whose claim expired)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import eventlet
from eventlet.queue import Empty, LightQueue
from nameko.extensions import DependencyProvider
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from common.db import Database, utcnow
from services.notifications import email_queue
from services.notifications.mailer import Transport, transport_from

log = logging.getLogger(__name__)


class EmailWorker(DependencyProvider):
    def __init__(self, transport: Transport | None = None) -> None:
        self.transport = transport
        self._wakeups: LightQueue | None = None
        self._running = False

    def setup(self) -> None:
        self.database = next(dep for dep in self.container.dependencies if isinstance(dep, Database))
        self.settings = self.container.config["NOTIFICATIONS"]
        if self.transport is None:
            self.transport = transport_from(self.settings)
        self._wakeups = LightQueue(maxsize=1)

    def start(self) -> None:
        @sa_event.listens_for(self.database.sessionmaker, "after_commit")
        def _queued(session: Any) -> None:
            if session.info.pop("email_queued", False):
                self.wake()

        self._running = True
        self.container.spawn_managed_thread(self._run, identifier="email_worker")

    def stop(self) -> None:
        self._running = False
        self.wake()

    def kill(self) -> None:
        self.stop()

    def wake(self) -> None:
        if self._wakeups is not None and self._wakeups.empty():
            try:
                self._wakeups.put_nowait(True)
            except Exception:  # noqa: S110 - a wake-up is already pending
                pass

    def _run(self) -> None:
        poll = float(self.settings.get("poll_seconds", 5))
        while self._running:
            try:
                while self._running and self.run_once() == int(self.settings.get("batch_size", 50)):
                    pass  # a full batch: there may be more due right now
            except Exception:
                log.exception("email worker failed; trying again in %.1fs", poll)
                eventlet.sleep(poll)
                continue
            try:
                self._wakeups.get(timeout=poll)
            except Empty:
                pass

    def run_once(self) -> int:
        return deliver_batch(self.database.new_session, self.transport, self.settings)

    def get_dependency(self, worker_ctx: Any) -> EmailWorker:
        return self


def deliver_batch(new_session: Callable[[], Session], transport: Transport,
                  settings: dict[str, Any]) -> int:
    """Claim, send and record one batch; how many messages it held."""
    with new_session() as session:
        claimed = email_queue.claim_due(session, utcnow(), int(settings.get("batch_size", 50)),
                                        float(settings.get("lease_seconds", 120)))
    if not claimed:
        return 0
    outcomes = transport.send(claimed)
    with new_session() as session:
        email_queue.record(session, claimed, outcomes, utcnow(), int(settings.get("max_attempts", 8)),
                           float(settings.get("retry_base_seconds", 30)),
                           float(settings.get("retry_cap_seconds", 3600)))
    for item in claimed:
        outcome = outcomes.get(item.id)
        if outcome is not None and not outcome.sent:
            log.warning("email %s not sent (attempt %d): %s", item.id, item.attempt, outcome.error)
    return len(claimed)
