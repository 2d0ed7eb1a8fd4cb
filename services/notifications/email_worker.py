"""The email worker: in every notifications process, a green thread that claims due messages
from the queue, sends them and records the outcome. It wakes when a committed transaction
queued an email, and otherwise every EMAIL_POLL_SECONDS (which also takes up retries whose
back-off is over and messages whose claim expired)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from common.db import utcnow
from common.queue_worker import QueueWorker
from services.notifications import email_queue
from services.notifications.mailer import Transport, transport_from

log = logging.getLogger(__name__)


class EmailWorker(QueueWorker):
    settings_key = "NOTIFICATIONS"
    commit_flag = "email_queued"
    default_poll_seconds = 5.0

    def __init__(self, transport: Transport | None = None) -> None:
        super().__init__()
        self.transport = transport

    def setup(self) -> None:
        super().setup()
        if self.transport is None:
            self.transport = transport_from(self.settings)

    def run_once(self) -> int:
        return deliver_batch(self.database.new_session, self.transport, self.settings)


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
