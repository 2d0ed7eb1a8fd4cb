"""Notifications service: tells people what concerns them (in-app inbox and email).

It consumes every other service's events, one quorum queue per source bound with `#`
(`common.events.ALL_EVENTS`), and hands each to every *reaction* of the service class: each
method named `react_<something>(session, event)`, called in name order; what they write is
committed in one transaction with the event's claim in the inbox table (taken last, so no
transaction is open while a reaction asks another service over RPC). A reaction that raises
rolls the whole event back; it is retried and finally parked like any event, and a replay
runs every reaction again (each must therefore be idempotent on its own rows too: unique
keys with inserts that ignore conflicts).

Adding to it without editing this module much:
- a feature lives in a mixin class in its own module (e.g. `webhooks.py`) and is added to
  `NotificationsService`'s bases. nameko finds entrypoints (`@rpc`, `@handles`, `@timer`)
  on inherited methods too: the container walks `inspect.getmembers(service_cls)`, which
  includes every base class (the gateway's route groups are mixins the same way; a test,
  `test_entrypoints_of_mixins_are_found`, checks it here). Dependencies declared on a mixin
  are found the same way. A mixin reacts to events by defining `react_<name>(self, session,
  event)`; an event handler of its own would need a SUBSCRIPTIONS entry.
- its tables subclass `models.Base` (Alembic revisions in migrations/versions, chained
  after the current head); its gateway routes go in `gateway/routes/<area>.py`, registered in
  `gateway/service.py`.

Who may do what: each person reads and marks only their own notifications and preferences
(someone else's is 404); registration's service token (common.service_identity) is how
this service asks the others for names and addresses while handling an event.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from nameko.dependency_providers import Config
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from common.auth import SERVICE_ROLE, Auth
from common.db import Database, utcnow
from common.entrypoints import rpc
from common.errors import NotAllowed, NotFound, StaleVersion
from common.events import ALL_EVENTS, handles
from common.idempotency import IdempotencyKeys
from common.logs import RequestContext
from common.outbox import OutboxRelay, first_delivery
from common.rpc import Rpc
from common.schemas import load, page_of
from common.service_identity import ServiceToken
from services.notifications import repository
from services.notifications.domain import DEFAULT_LANGUAGE, ESSENTIAL_KINDS, NON_ESSENTIAL_KINDS
from services.notifications.email_worker import EmailWorker
from services.notifications.meetings import Meetings
from services.notifications.models import InboxEvent, OutboxEvent, Preference
from services.notifications.people import TellPeople
from services.notifications.reminders import Reminders
from services.notifications.schemas import (
    NotificationListQuerySchema,
    NotificationPreferencesSchema,
    NotificationSchema,
    SetNotificationPreferencesSchema,
)
from services.notifications.support_desk import SupportDesk
from services.notifications.support_models import IdempotencyKey
from services.notifications.webhooks import Webhooks

log = logging.getLogger(__name__)

REACTION_PREFIX = "react_"

_notification = NotificationSchema()
_list_query = NotificationListQuerySchema()
_preferences = NotificationPreferencesSchema()
_set_preferences = SetNotificationPreferencesSchema()


@cache
def reactions_of(service_cls: type) -> tuple[str, ...]:
    """The names of a service class's reactions (its own and its mixins'), in name order."""
    return tuple(sorted(name for name in dir(service_cls)
                        if name.startswith(REACTION_PREFIX) and callable(getattr(service_cls, name))))


class EventConsumption:
    """The four per-source handlers and the reaction dispatch."""

    @handles("registration", ALL_EVENTS)
    def handle_registration_event(self, payload: dict[str, Any]) -> None:
        self._react("handle_registration_event", payload)

    @handles("matching", ALL_EVENTS)
    def handle_matching_event(self, payload: dict[str, Any]) -> None:
        self._react("handle_matching_event", payload)

    @handles("agreements", ALL_EVENTS)
    def handle_agreements_event(self, payload: dict[str, Any]) -> None:
        self._react("handle_agreements_event", payload)

    @handles("payments", ALL_EVENTS)
    def handle_payments_event(self, payload: dict[str, Any]) -> None:
        self._react("handle_payments_event", payload)

    def _react(self, handler: str, event: dict[str, Any]) -> None:
        session = self.db.session
        seen = session.get(InboxEvent, (event["event_id"], handler)) is not None
        # No connection is held while reactions ask other services over RPC.
        session.rollback()
        if seen:
            return
        for name in reactions_of(type(self)):
            getattr(self, name)(session, event)
        # The claim comes last: a twin delivery that got here first (or meanwhile) wins, and
        # everything this one wrote is rolled back.
        if not first_delivery(session, InboxEvent, event["event_id"], handler):
            session.rollback()
            return
        session.commit()


class PersonalInbox:
    """Each person's in-app notifications and their preferences; only their own."""

    def _person(self) -> str:
        caller = self.auth.caller
        if caller.has(SERVICE_ROLE):
            raise NotAllowed("A service has no inbox.")
        if caller.has("backoffice"):
            raise NotAllowed("An API key has no inbox: notifications go to people "
                             "(a back-office subscribes to webhooks).")
        return caller.account_id

    @rpc
    def list_notifications(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        account_id = self._person()
        data = load(_list_query, query or {})
        items, total = repository.list_notifications(self.db.reader, account_id, data["unread"],
                                                     data["page"], data["per_page"])
        return page_of(_notification.dump(items, many=True), total, data["page"], data["per_page"])

    @rpc
    def unread_count(self) -> dict[str, Any]:
        return {"unread": repository.unread_count(self.db.reader, self._person())}

    @rpc
    def mark_read(self, notification_id: str) -> dict[str, Any]:
        account_id = self._person()
        session = self.db.session
        repository.mark_read(session, account_id, str(notification_id), utcnow())
        row = repository.get_notification(session, account_id, str(notification_id))
        if row is None:
            raise NotFound("No such notification.")
        session.commit()
        return _notification.dump(repository.notification_dict(row))

    @rpc
    def mark_all_read(self) -> dict[str, Any]:
        account_id = self._person()
        session = self.db.session
        marked = repository.mark_all_read(session, account_id, utcnow())
        session.commit()
        return {"marked": marked}

    @rpc
    def get_preferences(self) -> dict[str, Any]:
        account_id = self._person()
        return _preferences_view(repository.preferences_of(self.db.reader, [account_id])[account_id])

    @rpc
    def set_preferences(self, payload: dict[str, Any]) -> dict[str, Any]:
        account_id = self._person()
        data = load(_set_preferences, payload or {})
        session = self.db.session
        row = repository.preference_row(session, account_id)
        expected = data.get("version")
        if expected is not None and expected != (row.version if row else 0):
            raise StaleVersion("Your preferences changed since you read them.",
                               {"version": ["Stale: reload and apply your change again."]})
        if row is None:
            row = Preference(account_id=account_id, email_kinds=[], language=DEFAULT_LANGUAGE)
            session.add(row)
        row.email_kinds = sorted(data["email_kinds"])
        row.language = data.get("language", row.language)
        row.updated_at = utcnow()
        try:
            session.commit()
        except (IntegrityError, StaleDataError) as exc:  # a twin saved first
            raise StaleVersion("Your preferences changed since you read them.") from exc
        return _preferences_view({"email_kinds": row.email_kinds, "language": row.language,
                                  "version": row.version})


def _preferences_view(prefs: dict[str, Any]) -> dict[str, Any]:
    return _preferences.dump({**prefs, "essential_kinds": list(ESSENTIAL_KINDS),
                              "available_kinds": list(NON_ESSENTIAL_KINDS)})


class NotificationsService(TellPeople, Webhooks, Reminders, SupportDesk, Meetings, PersonalInbox,
                           EventConsumption):
    name = "notifications"

    config = Config()
    db = Database()
    relay = OutboxRelay(OutboxEvent, inbox=InboxEvent)
    auth = Auth()
    rpc_client = Rpc()
    identity = ServiceToken()
    email_worker = EmailWorker()
    idempotency = IdempotencyKeys(IdempotencyKey)
    request_context = RequestContext()

    @rpc
    def health(self) -> dict[str, Any]:
        self.db.reader.execute(text("SELECT 1"))
        return {"status": "ok"}
