"""A green thread that drains a database-backed queue in batches (emails, webhook deliveries).

It runs `run_once()` while a batch comes back full, then sleeps until a committed transaction
that set `session.info[<commit_flag>]` wakes it, or for `poll_seconds` (which also takes up
retries whose back-off is over and claims whose lease expired). A failing batch is logged and
tried again after the poll interval.
"""

from __future__ import annotations

import logging
from typing import Any

import eventlet
from eventlet.queue import Empty, LightQueue
from nameko.extensions import DependencyProvider
from sqlalchemy import event as sa_event

from common.db import Database

log = logging.getLogger(__name__)


class QueueWorker(DependencyProvider):
    settings_key: str = ""  # the config block holding poll_seconds and batch_size
    commit_flag: str = ""  # the session.info key a transaction sets when it queued work
    default_poll_seconds: float = 5.0

    def __init__(self) -> None:
        self._wakeups: LightQueue | None = None
        self._running = False

    def setup(self) -> None:
        self.database = next(dep for dep in self.container.dependencies if isinstance(dep, Database))
        self.settings = self.container.config[self.settings_key]
        self._wakeups = LightQueue(maxsize=1)

    def start(self) -> None:
        @sa_event.listens_for(self.database.sessionmaker, "after_commit")
        def _queued(session: Any) -> None:
            if session.info.pop(self.commit_flag, False):
                self.wake()

        self._running = True
        self.container.spawn_managed_thread(self._run, identifier=type(self).__name__)

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

    def run_once(self) -> int:
        """Handle one batch; how many items it held."""
        raise NotImplementedError

    def _run(self) -> None:
        poll = float(self.settings.get("poll_seconds", self.default_poll_seconds))
        batch = int(self.settings.get("batch_size", 50))
        while self._running:
            try:
                while self._running and self.run_once() == batch:
                    pass  # a full batch: there may be more due right now
            except Exception:
                log.exception("%s failed; trying again in %.1fs", type(self).__name__, poll)
                eventlet.sleep(poll)
                continue
            try:
                self._wakeups.get(timeout=poll)
            except Empty:
                pass

    def get_dependency(self, worker_ctx: Any) -> QueueWorker:
        return self
