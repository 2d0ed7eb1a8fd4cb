"""Who hears what: from an event to the people who must hear about it, in plain Python.

Each rule names a recipient *role* (why this person hears it; it picks the template's wording),
how to find the people from the event (a selector over the payload), and whether the message
is *essential* (always emailed) or not (emailed only when the person asked for it in their
preferences). Everybody also gets an inbox entry, except for account emails. The person who
caused the event (`actor_id`) is not told about it.

The table in docs/notifications.md is this module said in words; a unit test checks that
every event type of common.events is covered here (an empty rule list says "nobody").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from common.events import EVENTS_BY_SOURCE, SESSION_EVENTS

# Selectors: how a rule finds its people in the event (and the directory the owners answer).
ACCOUNT = "account"  # payload[field] is an account id
OWNER = "owner"  # payload[field] is a registration id: its owner
CONTACT_POINTS = "contact_points"  # payload[field] is a partnership id: its contact points


@dataclass(frozen=True)
class Rule:
    role: str
    selector: str
    field: str
    essential: bool = False


@dataclass(frozen=True)
class Recipient:
    account_id: str
    name: str
    email: str
    role: str
    essential: bool


@dataclass
class Lookups:
    """What to ask registration about for one event."""

    account_ids: set[str] = field(default_factory=set)
    registration_ids: set[str] = field(default_factory=set)
    partnership_ids: set[str] = field(default_factory=set)

    def as_request(self) -> dict[str, list[str]]:
        return {"account_ids": sorted(self.account_ids),
                "registration_ids": sorted(self.registration_ids),
                "partnership_ids": sorted(self.partnership_ids)}


def _parties(essential: bool = False) -> tuple[Rule, ...]:
    return (Rule("visitor", OWNER, "visitor_registration_id", essential),
            Rule("host", OWNER, "host_registration_id", essential))


def _both_contact_points(essential: bool = False) -> tuple[Rule, ...]:
    return (Rule("visitor_contact_point", CONTACT_POINTS, "visitor_partnership_id", essential),
            Rule("host_contact_point", CONTACT_POINTS, "host_partnership_id", essential))


_PARTICIPANT = Rule("participant", OWNER, "registration_id", essential=True)
_REGISTRATION_CONTACT_POINTS = Rule("contact_point", CONTACT_POINTS, "partnership_id")
# Payments' events name the exchange and the visitor's partnership; the visitor's registration
# comes from agreements (`Enrichment`), as `visitor_registration_id`.
_PAYEE = Rule("visitor", OWNER, "visitor_registration_id", essential=True)

RULES: dict[str, tuple[Rule, ...]] = {
    # registration
    "registration_submitted": (_REGISTRATION_CONTACT_POINTS,),
    "registration_accepted": (_PARTICIPANT,),
    "registration_rejected": (_PARTICIPANT,),
    "registration_changes_requested": (_PARTICIPANT,),
    "registration_updated": (),
    "registration_withdrawn": (_PARTICIPANT, _REGISTRATION_CONTACT_POINTS),
    # matching
    "contact_requested": (Rule("recipient", ACCOUNT, "recipient_account_id"),),
    "contact_accepted": (Rule("requester", ACCOUNT, "requester_account_id"),),
    "contact_declined": (Rule("requester", ACCOUNT, "requester_account_id"),),
    "contact_expired": (Rule("requester", ACCOUNT, "requester_account_id"),
                        Rule("recipient", ACCOUNT, "recipient_account_id")),
    # The author is the actor, so only the other party hears it.
    "message_posted": (Rule("requester", ACCOUNT, "requester_account_id"),
                       Rule("recipient", ACCOUNT, "recipient_account_id")),
    # agreements
    "exchange_proposed": _parties(),
    "exchange_confirmed": _parties(),
    "exchange_submitted": _both_contact_points(),
    "exchange_validated": _parties(essential=True),
    "exchange_rejected": _parties(essential=True),
    "commitment_signed": (*_parties(), *_both_contact_points()),
    "commitment_fully_signed": (*_parties(essential=True), *_both_contact_points()),
    "financial_agreement_signed": (Rule("visitor", OWNER, "visitor_registration_id"),
                                   Rule("visitor_contact_point", CONTACT_POINTS,
                                        "visitor_partnership_id")),
    "exchange_started": _parties(),
    "exchange_completed": (Rule("visitor", OWNER, "visitor_registration_id", essential=True),
                           Rule("host", OWNER, "host_registration_id")),
    "closing_report_submitted": (Rule("visitor_contact_point", CONTACT_POINTS,
                                      "visitor_partnership_id"),),
    "exchange_cancelled": (*_parties(essential=True), *_both_contact_points()),
    "exchange_closed": _parties(),
    # payments
    "payout_approved": (_PAYEE,),
    "payout_paid": (_PAYEE,),
    "payout_failed": (_PAYEE, Rule("visitor_contact_point", CONTACT_POINTS, "partnership_id",
                                   essential=True)),
    # sessions: for token verifiers only, nobody is told
    **{event: () for event in SESSION_EVENTS},
}

# Account emails: to the address registration names for the request, always, never in the
# inbox (someone who cannot sign in yet reads them).
# `password_changed` is a security notice: no link, only the owner's address.
ACCOUNT_EMAILS = ("email_verification_requested", "password_reset_requested",
                  "signup_attempted_for_existing_account", "account_invited", "password_changed")
ACCOUNT_OWNER = "account_owner"

# What a person may choose to also receive by email (the rest is essential or inbox-only).
NON_ESSENTIAL_KINDS = tuple(sorted(
    event for event, rules in RULES.items() if any(not rule.essential for rule in rules)))
# Always emailed to whom they concern.
ESSENTIAL_KINDS = tuple(sorted({*ACCOUNT_EMAILS, *(
    event for event, rules in RULES.items() if rules and all(rule.essential for rule in rules))}))
# Until a person says otherwise: the requests that wait for them.
DEFAULT_EMAIL_KINDS = ("closing_report_submitted", "contact_requested", "exchange_proposed",
                       "exchange_submitted", "registration_submitted")
LANGUAGES = ("en", "fr")  # those with a templates/<language>/ directory
DEFAULT_LANGUAGE = "en"

# Events whose recipients need agreements' exchange parties first.
NEEDS_EXCHANGE_PARTIES = frozenset(EVENTS_BY_SOURCE["payments"])


def rules_for(event_type: str) -> tuple[Rule, ...]:
    return RULES.get(event_type, ())


# Named in messages (organisation and partnership names), whether or not they are recipients.
NAMED_REGISTRATIONS = ("registration_id", "requester_registration_id", "recipient_registration_id",
                       "visitor_registration_id", "host_registration_id")
NAMED_PARTNERSHIPS = ("partnership_id", "visitor_partnership_id", "host_partnership_id")


def lookups(event: dict[str, Any], rules: Iterable[Rule]) -> Lookups:
    wanted = Lookups()
    wanted.registration_ids.update(str(event[name]) for name in NAMED_REGISTRATIONS if event.get(name))
    wanted.partnership_ids.update(str(event[name]) for name in NAMED_PARTNERSHIPS if event.get(name))
    for rule in rules:
        value = event.get(rule.field)
        if not value:
            continue
        {ACCOUNT: wanted.account_ids, OWNER: wanted.registration_ids,
         CONTACT_POINTS: wanted.partnership_ids}[rule.selector].add(str(value))
    return wanted


def recipients(event: dict[str, Any], rules: Iterable[Rule],
               directory: dict[str, Any]) -> list[Recipient]:
    """The people of `rules` found in `directory` (registration's `notification_recipients`
    answer), once each: the first rule that finds a person names their role, and a person
    found by an essential rule gets the message as essential. Not the actor."""
    accounts = directory.get("accounts") or {}
    registrations = directory.get("registrations") or {}
    contact_points = directory.get("contact_points") or {}
    found: dict[str, Recipient] = {}
    actor = event.get("actor_id")
    for rule in rules:
        value = str(event.get(rule.field) or "")
        if not value:
            continue
        if rule.selector == ACCOUNT:
            people = [accounts.get(value)]
        elif rule.selector == OWNER:
            owner = (registrations.get(value) or {}).get("account_id")
            people = [accounts.get(owner)] if owner else []
        else:
            people = list(contact_points.get(value) or [])
        for person in people:
            if not person or not person.get("account_id") or person["account_id"] == actor:
                continue
            known = found.get(person["account_id"])
            if known is None:
                found[person["account_id"]] = Recipient(person["account_id"], person.get("name") or "",
                                                        person.get("email") or "", rule.role,
                                                        rule.essential)
            elif rule.essential and not known.essential:
                found[person["account_id"]] = Recipient(known.account_id, known.name, known.email,
                                                        known.role, True)
    return list(found.values())


def wants_email(recipient: Recipient, event_type: str, email_kinds: Iterable[str]) -> bool:
    return recipient.essential or event_type in set(email_kinds)


def template_context(event: dict[str, Any], directory: dict[str, Any]) -> dict[str, Any]:
    """What a template may say besides the event: references and organisation names."""
    registrations = directory.get("registrations") or {}
    partnerships = directory.get("partnerships") or {}

    def org(field_name: str) -> str | None:
        return (registrations.get(str(event.get(field_name) or "")) or {}).get("organisation_name")

    def partnership(field_name: str) -> str | None:
        return (partnerships.get(str(event.get(field_name) or "")) or {}).get("name")

    return {
        "organisation": org("registration_id"),
        "requester_organisation": org("requester_registration_id"),
        "recipient_organisation": org("recipient_registration_id"),
        "visitor_organisation": org("visitor_registration_id"),
        "host_organisation": org("host_registration_id"),
        "partnership": partnership("partnership_id"),
        "visitor_partnership": partnership("visitor_partnership_id"),
        "host_partnership": partnership("host_partnership_id"),
    }


def link_path(event: dict[str, Any]) -> str | None:
    """Where the web application shows the subject of the event."""
    if event.get("exchange_id"):
        return f"/exchanges/{event['exchange_id']}"
    if event.get("contact_id"):
        return f"/contacts/{event['contact_id']}"
    if event.get("registration_id"):
        return f"/registrations/{event['registration_id']}"
    return None
