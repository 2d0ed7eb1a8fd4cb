"""Webhook contracts: endpoints, secret rotation, the delivery log."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from common.event_schemas import PUBLIC_EVENTS
from common.schemas import PageQuerySchema
from services.notifications.ssrf import MAX_URL_LENGTH

MAX_OVERLAP_SECONDS = 7 * 24 * 3600
DELIVERY_STATES = ("pending", "sending", "delivered", "failed")


class _Unique(validate.Validator):
    error = "Name each event type once."

    def __call__(self, value: list) -> list:
        if len(value) != len(set(value)):
            raise ValidationError(self.error)
        return value


# The shape only; whether the address may be called is the SSRF check's (ssrf.py).
_URL = validate.Regexp(r"^https?://[^\s/?#@]+(/[^\s#]*)?$", error="Give an absolute https URL.")
_EVENT_TYPES = {"description": "The event types to receive (AsyncAPI: GET /api/v1/asyncapi.json)",
                "uniqueItems": True}


class CreateWebhookSchema(Schema):
    url = fields.String(required=True, validate=[validate.Length(min=8, max=MAX_URL_LENGTH), _URL],
                        metadata={"description": "A public https URL", "example": "https://example.eu/hooks"})
    event_types = fields.List(
        fields.String(validate=validate.OneOf(PUBLIC_EVENTS)), required=True,
        validate=[validate.Length(min=1, max=len(PUBLIC_EVENTS)), _Unique()], metadata=_EVENT_TYPES)
    description = fields.String(allow_none=True, validate=validate.Length(max=300))
    active = fields.Boolean(load_default=True)


class UpdateWebhookSchema(Schema):
    url = fields.String(validate=[validate.Length(min=8, max=MAX_URL_LENGTH), _URL])
    event_types = fields.List(fields.String(validate=validate.OneOf(PUBLIC_EVENTS)),
                              validate=[validate.Length(min=1, max=len(PUBLIC_EVENTS)), _Unique()],
                              metadata=_EVENT_TYPES)
    description = fields.String(allow_none=True, validate=validate.Length(max=300))
    active = fields.Boolean(metadata={"description": "An inactive endpoint keeps its deliveries "
                                                     "pending until it is active again"})
    version = fields.Integer(validate=validate.Range(min=0), metadata={
        "description": "The version you read (or If-Match); a stale one is 409"})


class WebhookSchema(Schema):
    id = fields.String()
    partnership_id = fields.String()
    url = fields.String()
    description = fields.String(allow_none=True)
    event_types = fields.List(fields.String())
    active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    secret_rotated_at = fields.DateTime(allow_none=True)
    previous_secret_expires_at = fields.DateTime(allow_none=True, metadata={
        "description": "Until then deliveries carry a second signature made with the old secret"})
    version = fields.Integer()
    secret = fields.String(metadata={"description": "Only when created or rotated: keep it, it "
                                                    "is never shown again"})


class RotateSecretSchema(Schema):
    overlap_seconds = fields.Integer(validate=validate.Range(min=0, max=MAX_OVERLAP_SECONDS), metadata={
        "description": "How long the old secret keeps signing too (default: the platform's)"})


class WebhookListQuerySchema(PageQuerySchema):
    pass


class DeliveryListQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATES))
    event_id = fields.String(validate=validate.Length(max=36))


class AttemptSchema(Schema):
    attempt = fields.Integer()
    started_at = fields.DateTime()
    duration_ms = fields.Integer()
    response_status = fields.Integer(allow_none=True, metadata={
        "description": "What the endpoint answered; null when it did not (see error)"})
    error = fields.String(allow_none=True)
    outcome = fields.String(metadata={"description": "delivered, retry or failed"})
    next_attempt_at = fields.DateTime(allow_none=True)


class DeliverySchema(Schema):
    id = fields.Integer()
    event_id = fields.String()
    event_type = fields.String()
    status = fields.String(metadata={"enum": list(DELIVERY_STATES)})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)
    attempt_log = fields.List(fields.Nested(AttemptSchema))


class PingSchema(Schema):
    event_id = fields.String()
    event_type = fields.String()
    delivery_id = fields.Integer()


class WebhookDeletedSchema(Schema):
    id = fields.String()
    deleted = fields.Boolean()
