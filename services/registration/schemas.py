"""The registration contract: what the service accepts and returns (also the OpenAPI source)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from common import reference
from common.schemas import COUNTRY, CountSchema, IsoDate, PageQuerySchema, merge_patch_schema

ROLES = ("visitor", "host")
MODES = ("physical", "virtual")
DECISIONS = ("accept", "reject", "request_changes")
STATUSES = ("draft", "submitted", "accepted", "rejected", "changes_requested", "withdrawn")


def _one_of(choices: frozenset[str] | tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(sorted(choices))


_UNIQUE = {"uniqueItems": True}  # what _unique checks, said in the OpenAPI document


def _unique(values: list) -> None:
    if len(values) != len(set(map(str, values))):
        raise ValidationError("Each value may appear once.")


PASSWORD = {"required": True, "load_only": True, "validate": validate.Length(min=12, max=128)}
LANGUAGE = validate.Regexp(r"^[a-z]{2}$", error="Use a two-letter language code (ISO 639-1).")


class CreateAccountSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(**PASSWORD)
    full_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    language = fields.String(load_default="en", validate=LANGUAGE,
                             metadata={"description": "The language of the emails we send."})


class SignUpSchema(Schema):
    """The answer to every sign-up, new address or known one alike: nothing in it tells
    whether the address was registered already."""

    email = fields.String(metadata={"description": "The address the email went to."})
    status = fields.String(metadata={"enum": ["check_your_email"]})
    detail = fields.String()


class AcceptedSchema(Schema):
    status = fields.String(metadata={"enum": ["accepted", "verified", "password_changed",
                                              "signed_out"]})
    detail = fields.String()


class VerifyEmailSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class PasswordResetRequestSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))


class PasswordResetConfirmSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200))
    new_password = fields.String(**PASSWORD)


class MessageContextRequestSchema(Schema):
    account_id = fields.String(required=True, validate=validate.Length(min=1, max=80))
    request_id = fields.String(load_default=None, allow_none=True,
                               validate=validate.Length(min=1, max=80))


class CreateApiKeySchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class ApiKeySchema(Schema):
    id = fields.String()
    name = fields.String()
    prefix = fields.String(metadata={"description": "The key's public start, to recognise it."})
    partnership_id = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class CreatedApiKeySchema(ApiKeySchema):
    key = fields.String(metadata={
        "description": "The key itself, shown this once: send it as `Authorization: Bearer "
                       "<key>`. Only its hash is kept."})


class CreateStaffAccountSchema(CreateAccountSchema):
    """An account with any role, made by an administrator (`cxc create-account`)."""

    roles = fields.List(fields.String(validate=validate.OneOf(
        ("participant", "partnership_contact", "support_agent", "admin", "backoffice"))),
        required=True, validate=validate.Length(min=1))
    partnership_code = fields.String(load_default=None, validate=validate.Length(max=40))


class TokenRequestSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=128))


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()


class AccountSchema(Schema):
    id = fields.String()
    email = fields.String()
    full_name = fields.String()
    roles = fields.List(fields.String())
    partnership_id = fields.String(allow_none=True)
    org_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    email_verified = fields.Boolean(metadata={
        "description": "Whether the address was verified; a registration is submitted only then."})
    language = fields.String()


class ContactPointSchema(Schema):
    name = fields.String()
    email = fields.String()


class PartnershipSchema(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()
    sectors = fields.List(fields.String())
    countries = fields.List(fields.String())
    contact_points = fields.List(fields.Nested(ContactPointSchema))


class OrganisationSchema(Schema):
    id = fields.String(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=2, max=300))
    type = fields.String(required=True, validate=_one_of(tuple(reference.organisation_types())))
    country = fields.String(required=True, validate=COUNTRY)
    city = fields.String(allow_none=True, validate=validate.Length(max=120))
    postcode = fields.String(allow_none=True, validate=validate.Length(max=20))
    address = fields.String(allow_none=True, validate=validate.Length(max=300))
    website = fields.Url(allow_none=True, validate=validate.Length(max=300))
    registration_number = fields.String(allow_none=True, validate=validate.Length(max=60))
    employees = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=10_000_000))
    cluster_member = fields.Boolean(load_default=False)
    cluster_name = fields.String(allow_none=True, validate=validate.Length(max=300))
    latitude = fields.Float(allow_none=True, validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(allow_none=True, validate=validate.Range(min=-180, max=180))
    description = fields.String(allow_none=True, validate=validate.Length(max=5000))


class RepresentativeSchema(Schema):
    first_name = fields.String(validate=validate.Length(min=1, max=100))
    last_name = fields.String(validate=validate.Length(min=1, max=100))
    email = fields.Email(validate=validate.Length(max=254))
    phone = fields.String(allow_none=True, validate=validate.Regexp(r"^\+?[0-9 ()./-]{6,25}$"))
    position = fields.String(allow_none=True, validate=validate.Length(max=120))
    date_of_birth = IsoDate()
    nationality = fields.String(validate=COUNTRY)
    residence_country = fields.String(allow_none=True, validate=COUNTRY)
    residence_days = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=40_000))
    residence_permit = fields.Boolean(allow_none=True)


class AvailabilitySchema(Schema):
    start = IsoDate(required=True)
    end = IsoDate(required=True)

    @validates_schema
    def _ordered(self, data: dict, **_: object) -> None:
        if data["end"] < data["start"]:
            raise ValidationError("The window must end on or after its start.", "end")


class PreferencesSchema(Schema):
    sectors = fields.List(fields.String(validate=_one_of(reference.sector_codes())),
                          validate=_unique, metadata=_UNIQUE)
    target_countries = fields.List(fields.String(validate=COUNTRY), validate=_unique, metadata=_UNIQUE)
    activity_types = fields.List(
        fields.String(validate=_one_of(reference.activity_type_codes())), validate=_unique, metadata=_UNIQUE
    )
    objectives = fields.List(fields.String(validate=_one_of(reference.objective_codes())),
                             validate=_unique, metadata=_UNIQUE)
    availability = fields.List(fields.Nested(AvailabilitySchema), validate=validate.Length(max=12))
    languages = fields.List(fields.String(validate=_one_of(reference.language_codes())),
                            validate=_unique, metadata=_UNIQUE)
    modes = fields.List(fields.String(validate=validate.OneOf(MODES)), validate=_unique, metadata=_UNIQUE)
    host_capacity = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=50))
    alumni_opt_in = fields.Boolean(allow_none=True, metadata={
        "description": "After a completed exchange, appear in the alumni directory."})


class CreateRegistrationSchema(Schema):
    partnership_id = fields.String(required=True)
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True,
                        validate=[validate.Length(min=1, max=2), _unique], metadata=_UNIQUE)
    organisation = fields.Nested(OrganisationSchema, required=True)
    representative = fields.Nested(RepresentativeSchema, load_default=dict)
    motivation = fields.String(allow_none=True, validate=validate.Length(max=5000))
    expertise = fields.String(allow_none=True, validate=validate.Length(max=5000))
    preferences = fields.Nested(PreferencesSchema, load_default=dict)


UpdateOrganisationSchema = merge_patch_schema(
    OrganisationSchema, "UpdateOrganisationSchema", ("name", "type", "country", "cluster_member"))
UpdateRepresentativeSchema = merge_patch_schema(RepresentativeSchema, "UpdateRepresentativeSchema")
UpdatePreferencesSchema = merge_patch_schema(PreferencesSchema, "UpdatePreferencesSchema")

UpdateRegistrationSchema = merge_patch_schema(
    CreateRegistrationSchema, "UpdateRegistrationSchema",
    ("partnership_id", "roles", "organisation"),
    organisation=fields.Nested(UpdateOrganisationSchema),
    representative=fields.Nested(UpdateRepresentativeSchema, allow_none=True),
    preferences=fields.Nested(UpdatePreferencesSchema, allow_none=True),
    version=fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "The version you edited (or send If-Match); without either: 428."}),
)
UpdateRegistrationSchema.__doc__ = """A JSON merge patch (RFC 7396) of a registration."""


class CvSchema(Schema):
    filename = fields.String(allow_none=True)
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    uploaded_at = fields.DateTime()


class AssessmentSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    comment = fields.String(allow_none=True, validate=validate.Length(max=5000))
    version = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "The version you assessed (or send If-Match)."})

    @validates_schema
    def _comment_when_not_accepting(self, data: dict, **_: object) -> None:
        if data.get("decision") != "accept" and not (data.get("comment") or "").strip():
            raise ValidationError("Say why, so the participant knows what to do.", "comment")


class AssessmentResultSchema(Schema):
    decision = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)
    assessed_by = fields.String(allow_none=True)
    assessed_at = fields.DateTime(allow_none=True)


class RegistrationSchema(Schema):
    id = fields.String()
    reference = fields.String()
    version = fields.Integer()
    status = fields.String(validate=validate.OneOf(STATUSES))
    account_id = fields.String()
    partnership_id = fields.String()
    roles = fields.List(fields.String())
    organisation = fields.Nested(OrganisationSchema)
    representative = fields.Nested(RepresentativeSchema)
    motivation = fields.String(allow_none=True)
    expertise = fields.String(allow_none=True)
    preferences = fields.Nested(PreferencesSchema)
    cv = fields.Nested(CvSchema, allow_none=True)
    assessment = fields.Nested(AssessmentResultSchema, allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    withdrawn_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class RegistrationListQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    partnership_id = fields.String(validate=validate.Length(min=1, max=64))
    country = fields.String(validate=COUNTRY)
    role = fields.String(validate=validate.OneOf(ROLES))


class RuleResultSchema(Schema):
    rule = fields.String()
    field = fields.String()
    passed = fields.Boolean()
    message = fields.String()


class EligibilitySchema(Schema):
    eligible = fields.Boolean()
    rules = fields.List(fields.Nested(RuleResultSchema))


class EligibilityPreviewSchema(Schema):
    """What the eligibility rules read, for someone who has no account yet: the rules about
    who may take part, without the completeness of a registration."""

    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True,
                        validate=[validate.Length(min=1), _unique], metadata=_UNIQUE)
    organisation = fields.Nested(Schema.from_dict({
        "type": fields.String(required=True, validate=_one_of(tuple(reference.organisation_types()))),
        "country": fields.String(required=True, validate=COUNTRY),
        "cluster_member": fields.Boolean(load_default=False),
        "cluster_name": fields.String(allow_none=True, validate=validate.Length(max=300)),
    }, name="EligibilityPreviewOrganisationSchema"), required=True)
    representative = fields.Nested(Schema.from_dict({
        "date_of_birth": IsoDate(required=True),
        "nationality": fields.String(required=True, validate=COUNTRY),
        "residence_country": fields.String(allow_none=True, validate=COUNTRY),
        "residence_days": fields.Integer(allow_none=True, validate=validate.Range(min=0, max=40_000)),
        "residence_permit": fields.Boolean(allow_none=True),
    }, name="EligibilityPreviewRepresentativeSchema"), required=True)


class CountrySchema(Schema):
    code = fields.String()
    name = fields.String()
    group = fields.String()
    valid_from = IsoDate()
    valid_to = IsoDate(allow_none=True)


class ReferenceDataSchema(Schema):
    countries = fields.List(fields.Nested(CountrySchema))
    sectors = fields.Dict(keys=fields.String(), values=fields.String())
    objectives = fields.Dict(keys=fields.String(), values=fields.String())
    activity_types = fields.Dict(keys=fields.String(), values=fields.String())
    organisation_types = fields.Dict(keys=fields.String(), values=fields.Dict())
    languages = fields.List(fields.String())


def _id_list() -> fields.List:
    return fields.List(fields.String(validate=validate.Length(max=36)),
                       validate=validate.Length(max=200), load_default=list)


class RecipientsRequestSchema(Schema):
    """`notification_recipients`: whom notifications must tell about one event (its token only)."""

    account_ids = _id_list()
    registration_ids = _id_list()
    partnership_ids = _id_list()


# --- administrators' account management ------------------------------------------------

PERSON_ROLES = ("participant", "partnership_contact", "support_agent", "admin")
INVITABLE_ROLES = ("partnership_contact", "support_agent", "admin")
ACCOUNT_STATUSES = ("active", "suspended", "unverified")
ID = validate.Length(min=1, max=64)


class AccountListQuerySchema(PageQuerySchema):
    role = fields.String(validate=validate.OneOf(PERSON_ROLES))
    partnership_id = fields.String(validate=ID)
    status = fields.String(validate=validate.OneOf(ACCOUNT_STATUSES))
    q = fields.String(validate=validate.Length(min=1, max=100), metadata={
        "description": "Part of the email address or of the name (case-insensitive)."})


class ManagedAccountSchema(Schema):
    """An account as administrators see it."""

    id = fields.String()
    email = fields.String()
    full_name = fields.String()
    roles = fields.List(fields.String())
    partnership_id = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": list(ACCOUNT_STATUSES)})
    language = fields.String()
    created_at = fields.DateTime()
    email_verified_at = fields.DateTime(allow_none=True)
    last_login_at = fields.DateTime(allow_none=True, metadata={
        "description": "The last successful sign-in, if any."})
    suspended_at = fields.DateTime(allow_none=True)
    version = fields.Integer(metadata={"description": "Send it back as If-Match to change it."})


class InviteAccountSchema(Schema):
    """A staff account: the invitee gets an email with a link to choose their password."""

    email = fields.Email(required=True, validate=validate.Length(max=254))
    full_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    roles = fields.List(fields.String(validate=validate.OneOf(INVITABLE_ROLES)), required=True,
                        validate=[validate.Length(min=1, max=3), _unique],
                        metadata=_UNIQUE)
    partnership_id = fields.String(load_default=None, allow_none=True, validate=ID, metadata={
        "description": "Required for a contact point."})
    language = fields.String(load_default="en", validate=LANGUAGE)


class UpdateAccountSchema(Schema):
    """A JSON merge patch of an account's roles and partnership; send `version` or If-Match."""

    roles = fields.List(fields.String(validate=validate.OneOf(PERSON_ROLES)),
                        validate=[validate.Length(min=1, max=4), _unique], metadata=_UNIQUE)
    partnership_id = fields.String(allow_none=True, validate=ID)
    version = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))


class AccountStatusChangeSchema(Schema):
    """Suspend or reactivate; `version` (or If-Match) guards against a stale page."""

    version = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    reason = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(max=500))


class AccountAuditEntrySchema(Schema):
    id = fields.String()
    account_id = fields.String()
    actor_id = fields.String(allow_none=True)
    actor_email = fields.String(allow_none=True)
    at = fields.DateTime()
    action = fields.String(metadata={"enum": ["invited", "created", "changed", "suspended",
                                              "reactivated"]})
    changes = fields.Dict(metadata={
        "description": "Per field, {from, to}; a suspension's reason under `reason`."})

class RegistrationStatisticsSchema(Schema):
    partnership_id = fields.String(allow_none=True, metadata={
        "description": "The partnership the figures are limited to; null: the programme"})
    total = fields.Integer()
    by_status = fields.List(fields.Nested(CountSchema), metadata={"description": "Every registration"})
    by_country = fields.List(fields.Nested(CountSchema), metadata={
        "description": "Submitted ones (not drafts), by the organisation's country"})
    by_sector = fields.List(fields.Nested(CountSchema), metadata={
        "description": "Submitted ones, once in each sector they prefer"})
    by_partnership = fields.List(fields.Nested(CountSchema), metadata={
        "description": "Submitted ones, by partnership id"})
