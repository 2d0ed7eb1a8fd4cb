"""The support desk's and the meetings' contract (also the OpenAPI source)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from common.schemas import PageQuerySchema

EXCHANGE_REFERENCE = r"^CXC-\d{4}-\d{6}$"
PARTICIPANT_STATUSES = ("interested", "registered")
QUERY_STATUSES = ("open", "answered", "closed")

_reference = fields.String(allow_none=True, validate=validate.Regexp(
    EXCHANGE_REFERENCE, error="An exchange reference looks like CXC-2026-000123."),
    metadata={"description": "The exchange it is about (CXC-YYYY-NNNNNN)", "example": "CXC-2026-000123"})


class CreateSupportQuerySchema(Schema):
    subject = fields.String(required=True, validate=validate.Length(min=3, max=200))
    text = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    participant_status = fields.String(required=True, validate=validate.OneOf(PARTICIPANT_STATUSES),
                                       metadata={"description": "Interested in the scheme, or "
                                                                "already registered"})
    exchange_reference = _reference
    email = fields.Email(validate=validate.Length(max=254), metadata={
        "description": "Where to answer: required without a sign-in, ignored with one"})
    name = fields.String(validate=validate.Length(max=200), allow_none=True)
    browser_brand = fields.String(allow_none=True, validate=validate.Length(max=60), metadata={
        "description": "Pre-filled from the User-Agent; send it to override"})
    browser_version = fields.String(allow_none=True, validate=validate.Length(max=40))


class SupportMessageSchema(Schema):
    id = fields.String()
    author = fields.String(metadata={"description": "requester or support"})
    text = fields.String()
    created_at = fields.DateTime()


class ScreenshotSchema(Schema):
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()


class SupportQuerySchema(Schema):
    id = fields.String()
    reference = fields.String(metadata={"description": "SUP-YYYY-NNNNNN"})
    status = fields.String(metadata={"enum": list(QUERY_STATUSES)})
    participant_status = fields.String()
    subject = fields.String()
    text = fields.String()
    exchange_reference = fields.String(allow_none=True)
    browser_brand = fields.String(allow_none=True)
    browser_version = fields.String(allow_none=True)
    signed_in = fields.Boolean(metadata={"description": "Sent by a signed-in participant"})
    requester_email = fields.String(allow_none=True, metadata={
        "description": "Shown to support agents only (anonymous requesters)"})
    screenshot = fields.Nested(ScreenshotSchema, allow_none=True)
    messages = fields.List(fields.Nested(SupportMessageSchema))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    version = fields.Integer()


class SupportQueryListQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(QUERY_STATUSES))
    participant_status = fields.String(validate=validate.OneOf(PARTICIPANT_STATUSES))
    text = fields.String(validate=validate.Length(min=1, max=200),
                         metadata={"description": "Words in the subject or the text"})


class ReplySchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=10_000))


class SlotSchema(Schema):
    start = fields.String(metadata={"description": "UTC, ISO-8601", "example": "2026-10-26T09:00:00Z"})
    end = fields.String()
    local_start = fields.String(metadata={"description": "Brussels local time, with its offset"})
    local_end = fields.String()
    timezone = fields.String()
    available = fields.Boolean()


class SlotQuerySchema(Schema):
    weeks = fields.Integer(validate=validate.Range(min=1, max=12), metadata={
        "description": "How many weeks ahead (SUPPORT_SLOT_WEEKS by default)"})


class BookMeetingSchema(Schema):
    start = fields.AwareDateTime(required=True, metadata={
        "description": "A slot's start (from /support/slots), with its offset"})
    query_id = fields.String(allow_none=True, validate=validate.Length(max=36), metadata={
        "description": "One of your support queries"})
    exchange_reference = _reference
    topic = fields.String(allow_none=True, validate=validate.Length(max=300))


class MeetingSchema(Schema):
    id = fields.String()
    status = fields.String(metadata={"enum": ["booked", "cancelled"]})
    start = fields.String()
    end = fields.String()
    local_start = fields.String()
    local_end = fields.String()
    timezone = fields.String()
    account_id = fields.String(metadata={"description": "Who booked it"})
    query_id = fields.String(allow_none=True)
    exchange_reference = fields.String(allow_none=True)
    topic = fields.String(allow_none=True)
    cancelled_by = fields.String(allow_none=True)
    created_at = fields.DateTime()
    cancelled_at = fields.DateTime(allow_none=True)


class MeetingListQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(("booked", "cancelled")))
    upcoming = fields.Boolean(metadata={"description": "Only meetings still to come"})
