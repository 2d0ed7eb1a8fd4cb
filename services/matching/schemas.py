"""The matching contract: catalogue, matches, contacts and messages (also the OpenAPI source)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from common import reference
from common.schemas import COUNTRY, IsoDate, PageQuerySchema


class AlumniQuerySchema(PageQuerySchema):
    sector = fields.String(validate=validate.OneOf(sorted(reference.sector_codes())))
    country = fields.String(validate=COUNTRY)


class CatalogueQuerySchema(PageQuerySchema):
    q = fields.String(validate=validate.Length(max=200))
    role = fields.String(validate=validate.OneOf(("visitor", "host")))
    country = fields.String(validate=COUNTRY)
    sector = fields.String(validate=validate.OneOf(sorted(reference.sector_codes())))
    organisation_type = fields.String(validate=validate.OneOf(sorted(reference.organisation_types())))
    activity_type = fields.String(validate=validate.OneOf(sorted(reference.activity_type_codes())))
    language = fields.String(validate=validate.OneOf(sorted(reference.language_codes())))
    mode = fields.String(validate=validate.OneOf(("physical", "virtual")))
    available_from = IsoDate()
    available_to = IsoDate()

    @validates_schema
    def _ordered(self, data: dict, **_: object) -> None:
        start, end = data.get("available_from"), data.get("available_to")
        if start and end and end < start:
            raise ValidationError("Must be on or after available_from.", "available_to")


class AvailabilityWindowSchema(Schema):
    start = fields.String()
    end = fields.String()


class PublicOrganisationSchema(Schema):
    name = fields.String()
    type = fields.String()
    country = fields.String()
    city = fields.String(allow_none=True)
    website = fields.String(allow_none=True)
    cluster_name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    employees = fields.Integer(allow_none=True)


class PublicPreferencesSchema(Schema):
    sectors = fields.List(fields.String())
    objectives = fields.List(fields.String())
    activity_types = fields.List(fields.String())
    languages = fields.List(fields.String())
    modes = fields.List(fields.String())
    target_countries = fields.List(fields.String())
    availability = fields.List(fields.Nested(AvailabilityWindowSchema))


class ContactDetailsSchema(Schema):
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    position = fields.String(allow_none=True)


class CatalogueEntrySchema(Schema):
    registration_id = fields.String()
    reference = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    partnership_id = fields.String(allow_none=True)
    organisation = fields.Nested(PublicOrganisationSchema)
    position = fields.String(allow_none=True)
    motivation = fields.String(allow_none=True)
    expertise = fields.String(allow_none=True)
    preferences = fields.Nested(PublicPreferencesSchema)
    relevance = fields.Float(allow_none=True)
    contact = fields.Nested(ContactDetailsSchema, allow_none=True,
                            metadata={"description": "Only once a contact request between you "
                                                     "and this participant is accepted."})


class MatchQuerySchema(PageQuerySchema):
    registration_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


FACTORS = ("sectors", "primary_sector", "objectives", "activity_types", "availability", "languages",
           "country_preference", "mode", "text")


class ReasonSchema(Schema):
    kind = fields.String(validate=validate.OneOf(FACTORS))
    detail = fields.String(metadata={"description": "For people, with the reference data's labels."})
    values = fields.List(fields.String(), metadata={"description": "The codes, for machines."})


class ExplanationSchema(Schema):
    fits = fields.List(fields.Nested(ReasonSchema), metadata={
        "description": "What fits, the factor that adds most to the score first."})
    does_not_fit = fields.List(fields.Nested(ReasonSchema), metadata={
        "description": "What does not fit (no common dates, no common language, not one of your "
                       "target countries, different sectors...), the costliest first."})


class ContributionSchema(Schema):
    factor = fields.String(validate=validate.OneOf(FACTORS))
    label = fields.String()
    points = fields.Float(metadata={"description": "Points this factor adds to the score; negative "
                                                   "for dates given by both sides with no day in common."})
    max_points = fields.Float(metadata={"description": "Points it adds when it fits fully."})


class MatchSchema(Schema):
    registration_id = fields.String()
    score = fields.Float(metadata={
        "description": "0-100: the sum of the contributions' points (never below 0); 100 = every factor "
                       "fits fully. The same two registrations always get the same score."})
    side = fields.String(metadata={"description": "The role the candidate would play."})
    explanation = fields.Nested(ExplanationSchema)
    contributions = fields.List(fields.Nested(ContributionSchema), metadata={
        "description": "One per factor, in a fixed order; their points add up to the score."})
    profile = fields.Nested(CatalogueEntrySchema)


class CreateContactSchema(Schema):
    registration_id = fields.String(required=True, metadata={
        "description": "The catalogue entry (registration) you want to contact."})
    message = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CounterpartSchema(Schema):
    registration_id = fields.String()
    name = fields.String(allow_none=True, metadata={
        "description": "The organisation's public name (null once it left the catalogue)."})
    country = fields.String(allow_none=True)


class ContactSchema(Schema):
    id = fields.String()
    status = fields.String(validate=validate.OneOf(("open", "accepted", "declined", "expired")))
    direction = fields.String(validate=validate.OneOf(("sent", "received")))
    requester_registration_id = fields.String()
    recipient_registration_id = fields.String()
    counterpart = fields.Nested(CounterpartSchema, metadata={
        "description": "The other party, as the catalogue shows it."})
    message = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    responded_at = fields.DateTime(allow_none=True)
    version = fields.Integer()


class ContactListQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(("open", "accepted", "declined", "expired")))


class CreateMessageSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class MessageSchema(Schema):
    id = fields.String()
    contact_id = fields.String()
    mine = fields.Boolean()
    body = fields.String()
    created_at = fields.DateTime()


class RebuildResultSchema(Schema):
    listed = fields.Integer()
    removed = fields.Integer()
