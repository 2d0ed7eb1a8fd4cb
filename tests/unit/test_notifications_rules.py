"""Notifications: who hears what, and how the service is put together."""

from __future__ import annotations

from nameko.containers import ServiceContainer
from nameko.events import EventHandler
from nameko.rpc import Rpc
from nameko.timer import Timer, timer

from common.events import ALL_EVENTS, EVENTS_BY_SOURCE, SUBSCRIPTIONS, Subscription
from services.notifications.domain import ACCOUNT_EMAILS, RULES
from services.notifications.service import NotificationsService, reactions_of


class _TimerMixin:
    @timer(interval=3600)
    def tick_from_a_mixin(self) -> None:
        pass

    def react_from_a_mixin(self, session, event) -> None:
        pass


class _Extended(_TimerMixin, NotificationsService):
    name = "notifications"


def test_entrypoints_of_mixins_are_found():
    container = ServiceContainer(_Extended, {"AMQP_URI": "memory://", "DATABASE_URLS": {}})
    found = {(type(ep).__name__, ep.method_name) for ep in container.entrypoints}
    assert ("Timer", "tick_from_a_mixin") in found
    assert any(isinstance(ep, Timer) for ep in container.entrypoints)
    # inherited from EventConsumption and PersonalInbox, two levels up
    assert any(isinstance(ep, EventHandler) and ep.method_name == "handle_payments_event"
               for ep in container.entrypoints)
    assert any(isinstance(ep, Rpc) and ep.method_name == "list_notifications"
               for ep in container.entrypoints)
    assert "react_from_a_mixin" in reactions_of(_Extended)
    assert "react_from_a_mixin" not in reactions_of(NotificationsService)


def test_one_queue_per_source_bound_to_every_event():
    mine = [s for s in SUBSCRIPTIONS if s.service == "notifications"]
    assert {s.source for s in mine} == set(EVENTS_BY_SOURCE)
    assert all(s.event_type == ALL_EVENTS for s in mine)
    name = Subscription("payments", ALL_EVENTS, "notifications", "handle_payments_event").queue_name
    assert name == "evt-payments-all--notifications.handle_payments_event"


def test_every_event_type_has_a_rule():
    every = {event for events in EVENTS_BY_SOURCE.values() for event in events}
    assert every == set(RULES) | set(ACCOUNT_EMAILS)
