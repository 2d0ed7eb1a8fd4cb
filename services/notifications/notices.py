"""Telling a person something that is not an event of another service (a reminder, a support
answer, a meeting booked), through the core's own pieces: the template of `kind`
(templates/<language>/events/<kind>.j2), an inbox entry for a person with an account and an
email through the durable queue. `notice_id` plays the event id: the inbox and the queue keep
one entry per (notice, person), so telling twice is harmless.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from common.db import utcnow
from services.notifications import email_queue, repository
from services.notifications.domain import DEFAULT_LANGUAGE
from services.notifications.rendering import render

NOTICE_NAMESPACE = uuid.UUID("6f1d2b1e-5c1a-4f0e-9d7e-2a8c3b9e4d10")


def notice_id(*parts: Any) -> str:
    """The same parts always give the same id (a retried notice is the same notice)."""
    return str(uuid.uuid5(NOTICE_NAMESPACE, ":".join(str(part) for part in parts)))


@dataclass(frozen=True)
class Person:
    role: str
    email: str
    account_id: str | None = None  # None: someone without an account (email only)
    name: str = ""
    inbox: bool = True

    @property
    def recipient(self) -> str:
        return self.account_id or f"email:{self.email.lower()}"


def tell(session: Session, settings: dict[str, Any], *, kind: str, notice: str,
         people: list[Person], context: dict[str, Any], link: str | None = None,
         reference: str | None = None, sensitive: bool = False) -> int:
    """An inbox entry (people with an account) and an email (everyone with an address).
    Returns how many people were told for the first time."""
    event = {"event_id": notice, "event_type": kind, "reference": reference}
    accounts = [person.account_id for person in people if person.account_id]
    languages = {account: prefs["language"]
                 for account, prefs in repository.preferences_of(session, accounts).items()}
    told = 0
    for person in people:
        language = languages.get(person.account_id or "", DEFAULT_LANGUAGE)
        message = render(kind, person.role, language, {
            **context, "name": person.name, "essential": True, "kind": kind,
            "action_url": context.get("action_url") or (
                settings["public_base_url"] + link if link else None)})
        added = False
        if person.account_id and person.inbox:
            added = repository.add_notification(session, account_id=person.account_id, event=event,
                                                role=person.role, title=message.subject,
                                                body=message.summary, link=link)
        if person.email:
            added = email_queue.enqueue(session, event=event, recipient=person.recipient,
                                        to_address=person.email, message=message,
                                        sender=settings["email_from"], at=utcnow(),
                                        sensitive=sensitive) or added
        told += int(added)
    return told
