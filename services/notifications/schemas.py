"""The notifications contract: what the service accepts and returns (also the OpenAPI source)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from common.schemas import PageQuerySchema
from services.notifications.domain import LANGUAGES, NON_ESSENTIAL_KINDS


def _unique(values: list) -> None:
    if len(values) != len(set(values)):
        raise ValidationError("Each value may appear once.")


class NotificationSchema(Schema):
    id = fields.String()
    event_type = fields.String(metadata={"description": "The event that caused it."})
    kind = fields.String(metadata={"description": "Its preference key (the event type)."})
    role = fields.String(metadata={"description": "Why you hear it: participant, contact_point, "
                                                  "visitor, host, requester, recipient, ..."})
    title = fields.String()
    body = fields.String()
    link = fields.String(allow_none=True, metadata={"description": "Where the web application "
                                                                   "shows its subject."})
    reference = fields.String(allow_none=True, metadata={"description": "CX-/CXC- reference."})
    read = fields.Boolean()
    read_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class NotificationListQuerySchema(PageQuerySchema):
    unread = fields.Boolean(load_default=None, allow_none=True,
                            metadata={"description": "Only unread (true) or only read (false)."})


class UnreadCountSchema(Schema):
    unread = fields.Integer()


class MarkedReadSchema(Schema):
    marked = fields.Integer(metadata={"description": "How many were unread and are now read."})


class NotificationPreferencesSchema(Schema):
    email_kinds = fields.List(fields.String(), metadata={
        "description": "The non-essential notifications you also receive by email."})
    language = fields.String()
    essential_kinds = fields.List(fields.String(), metadata={
        "description": "Always emailed to whom they concern (not a choice)."})
    available_kinds = fields.List(fields.String(), metadata={
        "description": "What `email_kinds` may hold."})
    version = fields.Integer()


class SetNotificationPreferencesSchema(Schema):
    email_kinds = fields.List(fields.String(validate=validate.OneOf(NON_ESSENTIAL_KINDS)),
                              required=True, validate=[validate.Length(max=len(NON_ESSENTIAL_KINDS)),
                                                       _unique],
                              metadata={"uniqueItems": True})
    language = fields.String(validate=validate.OneOf(LANGUAGES))
    version = fields.Integer(validate=validate.Range(min=0), metadata={
        "description": "The version you read (or If-Match); a stale one is 409."})
