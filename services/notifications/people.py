"""The reaction that tells people: an inbox entry for each person an event concerns, and an
email when it is essential or they asked for it; account emails to whoever registration
names. Names and addresses come from their owners over RPC, with this service's token."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from common.db import utcnow
from common.errors import Conflict, NotFound
from common.events import REGISTRATION_EVENTS
from services.notifications import domain, email_queue, repository
from services.notifications.directory import Directory
from services.notifications.rendering import has_template, render

log = logging.getLogger(__name__)

ACCOUNT_LINKS = {"email_verification_requested": "/account/verify",
                 "password_reset_requested": "/account/reset",
                 "signup_attempted_for_existing_account": "/account/reset",
                 "account_invited": "/account/invitation"}


class TellPeople:
    # Names and addresses, kept a short time (services/notifications/directory.py).
    recipients_directory = Directory()

    def react_tell_people(self, session: Session, event: dict[str, Any]) -> None:
        event_type = event.get("event_type") or ""
        if event_type in REGISTRATION_EVENTS:
            # What registration changed is told with what it is now.
            self.recipients_directory.forget(event.get("registration_id"), event.get("account_id"))
        if event_type in domain.ACCOUNT_EMAILS:
            self._account_email(session, event)
            return
        rules = domain.rules_for(event_type)
        if not rules or not has_template(event_type):
            return
        subject = dict(event)
        if event_type in domain.NEEDS_EXCHANGE_PARTIES and event.get("exchange_id"):
            parties = self._ask("agreements", "notification_parties", [event["exchange_id"]])
            subject.update(parties.get(event["exchange_id"]) or {})
        directory = self.recipients_directory.lookup(
            domain.lookups(subject, rules).as_request(),
            lambda request: self._ask("registration", "notification_recipients", request))
        people = domain.recipients(subject, rules, directory)
        if not people:
            return
        preferences = repository.preferences_of(session, [person.account_id for person in people])
        names = domain.template_context(subject, directory)
        path = domain.link_path(subject)
        settings = self.config["NOTIFICATIONS"]
        now = utcnow()
        for person in people:
            prefs = preferences[person.account_id]
            message = render(event_type, person.role, prefs["language"], {
                **subject, **names, "name": person.name, "essential": person.essential,
                "kind": event_type, "action_url": settings["public_base_url"] + path if path else None})
            repository.add_notification(session, account_id=person.account_id, event=event,
                                        role=person.role, title=message.subject,
                                        body=message.summary, link=path)
            if person.email and domain.wants_email(person, event_type, prefs["email_kinds"]):
                email_queue.enqueue(session, event=event, recipient=person.account_id,
                                    to_address=person.email, message=message,
                                    sender=settings["email_from"], at=now)

    def _account_email(self, session: Session, event: dict[str, Any]) -> None:
        """Essential, email only: registration says to which address, in which language,
        and with which one-time token (never carried by the event)."""
        try:
            found = self._ask("registration", "account_message_context",
                              {"account_id": event.get("account_id"), "request_id": event.get("request_id")})
        except (NotFound, Conflict):
            # The account or request is gone, or the request was used or expired meanwhile:
            # there is nothing to send, and retrying would not change that.
            log.info("account email %s: registration has nothing to send for it", event.get("event_id"))
            return
        settings = self.config["NOTIFICATIONS"]
        token = found.get("token")
        link = None
        if token:
            link = f"{settings['public_base_url']}{ACCOUNT_LINKS[event['event_type']]}?token={token}"
        language = found.get("language") or domain.DEFAULT_LANGUAGE
        message = render(event["event_type"], domain.ACCOUNT_OWNER, language, {
            "name": found.get("name"), "essential": True, "kind": event["event_type"],
            "action_url": link, "expires_at": found.get("expires_at"), "purpose": found.get("purpose")})
        email_queue.enqueue(session, event=event, recipient=str(event.get("account_id")),
                            to_address=found["email"], message=message, sender=settings["email_from"],
                            at=utcnow(), sensitive=True)

    def _ask(self, service: str, method: str, *args: Any) -> Any:
        return self.rpc_client.call(service, method, *args, auth_token=self.identity.token)
