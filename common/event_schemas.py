"""The payload of every event, as marshmallow schemas: the one description of the contracts.

The AsyncAPI document (common.asyncapi) and the webhook documentation are generated from
these; an e2e test taps the exchanges during whole journeys and validates every event it
sees against its schema, so a producer that drifts from its contract fails a test.

Unknown fields are refused on purpose: adding a field to an event (changes are additive
only) means adding it here too, which is what keeps the published document true.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

# Account emails and sessions (common.events.ACCOUNT_EVENTS): for notifications and token
# verifiers, never meant for a partnership's systems (not in the AsyncAPI document, never
# sent to a webhook).
from common.events import EVENTS_BY_SOURCE, INTERNAL_EVENTS

_UUID = {"format": "uuid"}


def _id(description: str, **kwargs: Any) -> fields.String:
    return fields.String(required=True, metadata={"description": description, **_UUID}, **kwargs)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class EnvelopeSchema(_Strict):
    event_id = _id("Unique per event; a redelivery carries the same id")
    event_type = fields.String(required=True, metadata={"description": "Also the routing key"})
    version = fields.Integer(required=True, validate=validate.Equal(1),
                             metadata={"description": "Payload version; changes are additive only"})
    occurred_at = fields.DateTime(required=True, metadata={"description": "When it happened (UTC)"})
    actor_id = fields.String(required=True, allow_none=True, metadata={
        "description": "The account that caused it; null for the system (timers)", **_UUID})


# --- registration ---------------------------------------------------------------------

class EventOrganisationSchema(_Strict):
    id = fields.String(required=True, metadata=_UUID)
    name = fields.String(required=True)
    type = fields.String(required=True)
    country = fields.String(required=True, metadata={"description": "ISO 3166 alpha-2"})
    city = fields.String(allow_none=True)
    website = fields.String(allow_none=True)
    cluster_name = fields.String(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    description = fields.String(allow_none=True)
    employees = fields.Integer(allow_none=True)


class EventRepresentativeSchema(_Strict):
    position = fields.String(allow_none=True, metadata={"description": "A job title, nothing personal"})


class EventAvailabilitySchema(_Strict):
    start = fields.Date(required=True)
    end = fields.Date(required=True)


class EventPreferencesSchema(_Strict):
    sectors = fields.List(fields.String())
    target_countries = fields.List(fields.String())
    activity_types = fields.List(fields.String())
    objectives = fields.List(fields.String())
    availability = fields.List(fields.Nested(EventAvailabilitySchema))
    languages = fields.List(fields.String())
    modes = fields.List(fields.String())
    host_capacity = fields.Integer(allow_none=True)
    alumni_opt_in = fields.Boolean(allow_none=True)


class RegistrationEventSchema(EnvelopeSchema):
    """Every registration event carries the registration's public profile."""

    registration_id = _id("The registration")
    reference = fields.String(required=True, metadata={"description": "Human reference, CX-…"})
    registration_version = fields.Integer(required=True, metadata={
        "description": "The registration's version after the change: the ordering key"})
    status = fields.String(required=True, validate=validate.OneOf(
        ("submitted", "accepted", "rejected", "changes_requested", "withdrawn")))
    account_id = _id("The owner's account")
    partnership_id = _id("The chosen partnership")
    roles = fields.List(fields.String(validate=validate.OneOf(("visitor", "host"))), required=True)
    organisation = fields.Nested(EventOrganisationSchema, required=True)
    representative = fields.Nested(EventRepresentativeSchema, required=True)
    motivation = fields.String(allow_none=True)
    expertise = fields.String(allow_none=True)
    preferences = fields.Nested(EventPreferencesSchema, required=True)


# --- matching -------------------------------------------------------------------------

class ContactEventSchema(EnvelopeSchema):
    contact_id = _id("The contact request")
    status = fields.String(required=True, validate=validate.OneOf(
        ("open", "accepted", "declined", "expired")))
    requester_registration_id = _id("The requesting registration")
    requester_account_id = _id("Its owner")
    recipient_registration_id = _id("The registration asked")
    recipient_account_id = _id("Its owner")


class MessagePostedEventSchema(ContactEventSchema):
    """A message in an accepted contact's conversation (never its text)."""

    message_id = fields.Raw(required=True, metadata={"description": "The message's id"})
    author_account_id = _id("Who wrote it")


# --- agreements -----------------------------------------------------------------------

class ExchangeEventSchema(EnvelopeSchema):
    exchange_id = _id("The exchange")
    reference = fields.String(required=True, metadata={"description": "CXC-2026-000123"})
    status = fields.String(required=True)
    exchange_version = fields.Integer(required=True, metadata={"description": "The ordering key"})
    content_version = fields.Integer(required=True, metadata={
        "description": "The plan's version; signatures belong to one"})
    visitor_registration_id = _id("The visiting organisation's registration")
    visitor_organisation_id = _id("The visiting organisation")
    visitor_partnership_id = _id("Its partnership (VOP)")
    visitor_country = fields.String(required=True)
    host_registration_id = _id("The host organisation's registration")
    host_organisation_id = _id("The host organisation")
    host_partnership_id = _id("Its partnership (HOP)")
    host_country = fields.String(required=True)
    mode = fields.String(required=True, allow_none=True, validate=validate.OneOf(("physical", "virtual")))
    start_date = fields.Date(required=True, allow_none=True)
    end_date = fields.Date(required=True, allow_none=True)


class CommitmentSignedEventSchema(ExchangeEventSchema):
    party = fields.String(required=True, validate=validate.OneOf(("vo", "ho", "vop", "hop")))
    document_sha256 = fields.String(required=True)


class CommitmentFullySignedEventSchema(ExchangeEventSchema):
    document_sha256 = fields.String(required=True)


class AmountExchangeEventSchema(ExchangeEventSchema):
    amount_cents = fields.Integer(required=True, metadata={"description": "Integer euro cents"})


# --- payments -------------------------------------------------------------------------

class PayoutEventSchema(EnvelopeSchema):
    payout_id = _id("The payout (one per exchange)")
    claim_id = _id("The payment claim")
    exchange_id = _id("The exchange")
    reference = fields.String(required=True, metadata={"description": "The exchange's CXC-…"})
    partnership_id = _id("The visitor's partnership")
    amount_cents = fields.Integer(required=True, metadata={"description": "Integer euro cents"})
    state = fields.String(required=True)
    attempt = fields.Integer(required=True, metadata={
        "description": "The payment runs it went out in (0 when approved). With approved < paid < "
                       "failed inside one run it orders a payout's events; a transfer returned "
                       "after its run was marked paid is a payout_failed of that run's attempt"})
    due_on = fields.Date(required=True)


class PayoutPaidEventSchema(PayoutEventSchema):
    batch_id = _id("The payment run")


_AMOUNT_EVENTS = ("financial_agreement_signed", "closing_report_submitted")

EVENT_SCHEMAS: dict[str, type[Schema]] = {
    **{event: RegistrationEventSchema for event in EVENTS_BY_SOURCE["registration"]
       if event not in INTERNAL_EVENTS},
    **{event: ContactEventSchema for event in EVENTS_BY_SOURCE["matching"]},
    "message_posted": MessagePostedEventSchema,
    **{event: ExchangeEventSchema for event in EVENTS_BY_SOURCE["agreements"]},
    "commitment_signed": CommitmentSignedEventSchema,
    "commitment_fully_signed": CommitmentFullySignedEventSchema,
    **{event: AmountExchangeEventSchema for event in _AMOUNT_EVENTS},
    **{event: PayoutEventSchema for event in EVENTS_BY_SOURCE["payments"]},
    "payout_paid": PayoutPaidEventSchema,
}

# When each event is published (the AsyncAPI messages' summaries).
EVENT_SUMMARIES: dict[str, str] = {
    "registration_submitted": "A participant submitted (or resubmitted) a registration",
    "registration_accepted": "The partnership's contact point accepted it: it is in the catalogue",
    "registration_rejected": "The contact point rejected it",
    "registration_changes_requested": "The contact point asked for changes",
    "registration_updated": "An accepted registration was edited",
    "registration_withdrawn": "It was withdrawn (by its owner or an administrator)",
    "contact_requested": "A participant asked another for contact",
    "contact_accepted": "The recipient accepted the contact request",
    "contact_declined": "The recipient declined it",
    "contact_expired": "Nobody answered in time",
    "message_posted": "A message was posted in an accepted contact's conversation (not its text)",
    "exchange_proposed": "A party of an accepted contact proposed an exchange",
    "exchange_confirmed": "The other party confirmed: preparation starts",
    "exchange_submitted": "The plan went to both partnerships",
    "exchange_validated": "Both partnerships approved the plan",
    "exchange_rejected": "A partnership rejected the plan",
    "commitment_signed": "One of the four parties signed the commitment to quality",
    "commitment_fully_signed": "The fourth signature is in",
    "financial_agreement_signed": "The visitor and its partnership signed the financial agreement",
    "exchange_started": "The stay began",
    "exchange_completed": "The stay ended",
    "closing_report_submitted": "The visitor's closing report is in",
    "exchange_cancelled": "The exchange was cancelled (or a proposal declined)",
    "exchange_closed": "Paid and closed",
    "payout_approved": "The payment claim was approved: the exchange's payout exists",
    "payout_paid": "The payment run holding the payout was marked paid",
    "payout_failed": "The bank refused or returned the payout",
}

# What a partnership's systems may receive (webhooks) or bind to (AsyncAPI), by source.
PUBLIC_EVENTS_BY_SOURCE: dict[str, tuple[str, ...]] = {
    source: tuple(event for event in events if event not in INTERNAL_EVENTS)
    for source, events in EVENTS_BY_SOURCE.items()}
PUBLIC_EVENTS: tuple[str, ...] = tuple(
    event for events in PUBLIC_EVENTS_BY_SOURCE.values() for event in events)


def source_of(event_type: str) -> str | None:
    return next((source for source, events in EVENTS_BY_SOURCE.items() if event_type in events), None)


def contract_errors(event: dict[str, Any]) -> dict[str, Any]:
    """What is wrong with an event against its contract ({} when nothing)."""
    schema = EVENT_SCHEMAS.get(str(event.get("event_type")))
    if schema is None:
        return {"event_type": [f"No contract for {event.get('event_type')!r}."]}
    return schema().validate(event)
