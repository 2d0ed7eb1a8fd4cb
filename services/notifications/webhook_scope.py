"""Which partnerships an event concerns: a partnership's webhooks only ever receive events
about its own members and its exchanges.

- registration events: the registration's chosen partnership (`partnership_id`);
- matching events: the partnerships of both registrations (requester and recipient), from
  the registration -> partnership projection notifications keeps from registration events;
- agreements events: the visitor's and the host's partnerships;
- payments events: the visitor's partnership (`partnership_id`), whose budget pays;
- internal account events: nobody.
"""

from __future__ import annotations

from typing import Any

from common.event_schemas import INTERNAL_EVENTS, source_of

# Payload fields naming a partnership directly, per source.
PARTNERSHIP_FIELDS: dict[str, tuple[str, ...]] = {
    "registration": ("partnership_id",),
    "agreements": ("visitor_partnership_id", "host_partnership_id"),
    "payments": ("partnership_id",),
}
# Payload fields naming registrations whose partnerships are concerned, per source.
REGISTRATION_FIELDS: dict[str, tuple[str, ...]] = {
    "matching": ("requester_registration_id", "recipient_registration_id"),
}


def deliverable(event_type: str) -> bool:
    return event_type not in INTERNAL_EVENTS and source_of(event_type) is not None


def named_partnerships(event: dict[str, Any]) -> set[str]:
    source = source_of(str(event.get("event_type")))
    return {str(event[name]) for name in PARTNERSHIP_FIELDS.get(source or "", ()) if event.get(name)}


def named_registrations(event: dict[str, Any]) -> set[str]:
    source = source_of(str(event.get("event_type")))
    return {str(event[name]) for name in REGISTRATION_FIELDS.get(source or "", ()) if event.get(name)}


def partnerships_concerned(event: dict[str, Any], partnership_of: dict[str, str]) -> set[str]:
    """`partnership_of` maps the event's registrations (named_registrations) to partnerships."""
    if not deliverable(str(event.get("event_type"))):
        return set()
    return named_partnerships(event) | {partnership_of[reg] for reg in named_registrations(event)
                                        if reg in partnership_of}
