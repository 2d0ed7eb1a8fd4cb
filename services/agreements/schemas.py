"""The agreements contract: what the service accepts and returns (also the OpenAPI source)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

# Payments' errors (no lump-sum rate for the host country, a budget that does not fit) reach
# agreements' callers through its financial-agreement operations: importing payments'
# contract registers them for RPC, in the agreements process and in the gateway (which
# imports this module), so they arrive as themselves (422, 409), not as a RemoteError.
import services.payments.schemas  # noqa: F401
from common import reference
from common.schemas import CountSchema, IsoDate, PageQuerySchema, merge_patch_schema
from services.agreements import lifecycle as lc
from services.agreements.plan import MODES

PARTIES = ("vo", "ho", "vop", "hop")
SIGNED_COPY_MAX_BYTES = 10 * 1024 * 1024  # an uploaded signed copy of the commitment


def _unique(values: list) -> None:
    if len(values) != len(set(map(str, values))):
        raise ValidationError("Each value may appear once.")


def _codes(choices: frozenset[str]) -> fields.List:
    return fields.List(fields.String(validate=validate.OneOf(sorted(choices))), validate=_unique)


class ActionItemSchema(Schema):
    date = IsoDate(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))


class ResponsibilitiesSchema(Schema):
    visitor = fields.String(allow_none=True, validate=validate.Length(max=5000))
    host = fields.String(allow_none=True, validate=validate.Length(max=5000))


class PlanSchema(Schema):
    """The content of the commitment to quality. A draft may leave anything out; submitting
    checks that everything is there (see `GET …/checks`)."""

    mode = fields.String(allow_none=True, validate=validate.OneOf(MODES))
    start_date = IsoDate(allow_none=True)
    end_date = IsoDate(allow_none=True)
    travel_days_before = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=3))
    travel_days_after = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=3))
    objectives = _codes(reference.objective_codes())
    activity_types = _codes(reference.activity_type_codes())
    action_plan = fields.List(fields.Nested(ActionItemSchema), validate=validate.Length(max=62))
    expected_outcomes = fields.String(allow_none=True, validate=validate.Length(max=5000))
    responsibilities = fields.Nested(ResponsibilitiesSchema, allow_none=True)
    languages = _codes(reference.language_codes())


class ProposeExchangeSchema(Schema):
    contact_id = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "description": "An accepted contact request between you and the other organisation."})
    counterpart_registration_id = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "description": "When you agreed outside the platform: the other organisation's "
                       "accepted registration."})
    role = fields.String(validate=validate.OneOf(("visitor", "host")), metadata={
        "description": "Your side: needed when your registration has both roles."})
    plan = fields.Nested(PlanSchema, load_default=dict)

    @validates_schema
    def _one_counterpart(self, data: dict, **_: object) -> None:
        if bool(data.get("contact_id")) == bool(data.get("counterpart_registration_id")):
            raise ValidationError("Name either an accepted contact or the other registration.",
                                  "contact_id")


UpdateResponsibilitiesSchema = merge_patch_schema(ResponsibilitiesSchema,
                                                  "UpdateResponsibilitiesSchema")
UpdatePlanSchema = merge_patch_schema(
    PlanSchema, "UpdatePlanSchema",
    responsibilities=fields.Nested(UpdateResponsibilitiesSchema, allow_none=True))


class UpdateExchangeSchema(Schema):
    """A JSON merge patch (RFC 7396) of the plan: members left out stay, `null` removes one,
    lists are replaced whole."""

    plan = fields.Nested(UpdatePlanSchema, required=True)
    version = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "The version you edited (or send If-Match); without either: 428."})


class VersionSchema(Schema):
    version = fields.Integer(validate=validate.Range(min=1))


class ValidationDecisionSchema(VersionSchema):
    decision = fields.String(required=True, validate=validate.OneOf(("approve", "reject")))
    comment = fields.String(allow_none=True, validate=validate.Length(max=5000))

    @validates_schema
    def _comment_when_rejecting(self, data: dict, **_: object) -> None:
        if data.get("decision") == "reject" and not (data.get("comment") or "").strip():
            raise ValidationError("Say what must change.", "comment")


class SignSchema(Schema):
    party = fields.String(validate=validate.OneOf(PARTIES), metadata={
        "description": "The party you sign for (needed only when you are more than one)."})
    document_sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"),
                                    metadata={"description": "SHA-256 of the document you read."})


class CancelSchema(VersionSchema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))


class ConfirmSchema(VersionSchema):
    comment = fields.String(allow_none=True, validate=validate.Length(max=2000))


class BankDetailsSchema(Schema):
    account_holder = fields.String(required=True, validate=validate.Length(min=1, max=200))
    iban = fields.String(required=True, load_only=True, validate=validate.Length(min=15, max=42))
    bic = fields.String(allow_none=True, validate=validate.Length(min=8, max=11))


class OutcomeSchema(Schema):
    objective = fields.String(required=True,
                              validate=validate.OneOf(sorted(reference.objective_codes())))
    achieved = fields.String(required=True, validate=validate.OneOf(("yes", "partly", "no")))
    comment = fields.String(allow_none=True, validate=validate.Length(max=2000))


class ClosingReportSchema(Schema):
    outcomes = fields.List(fields.Nested(OutcomeSchema), required=True,
                           validate=validate.Length(min=1, max=10))
    follow_up = fields.String(allow_none=True, validate=validate.Length(max=5000))
    satisfaction = fields.Integer(required=True, validate=validate.Range(min=1, max=5))


class SideSchema(Schema):
    registration_id = fields.String()
    organisation_name = fields.String()
    country = fields.String()
    partnership_id = fields.String()


class ValidationViewSchema(Schema):
    party = fields.String()
    decision = fields.String()
    comment = fields.String(allow_none=True)
    decided_at = fields.DateTime()


class SignatureViewSchema(Schema):
    party = fields.String()
    signed = fields.Boolean()
    signer_name = fields.String(allow_none=True)
    method = fields.String(allow_none=True, metadata={
        "description": "platform, signed_pdf (a copy signed elsewhere) or paper_scan"})
    external_signer = fields.String(allow_none=True, metadata={
        "description": "Whose certificate signed an uploaded signed_pdf"})
    document_sha256 = fields.String(allow_none=True)
    signed_at = fields.DateTime(allow_none=True)


class DocumentViewSchema(Schema):
    content_version = fields.Integer()
    sha256 = fields.String()
    size = fields.Integer()
    created_at = fields.DateTime()


class ExchangeSchema(Schema):
    id = fields.String()
    reference = fields.String()
    version = fields.Integer()
    status = fields.String(validate=validate.OneOf(lc.STATES))
    proposer_party = fields.String()
    contact_id = fields.String(allow_none=True)
    visitor = fields.Nested(SideSchema)
    host = fields.Nested(SideSchema)
    plan = fields.Nested(PlanSchema)
    content_version = fields.Integer()
    working_days = fields.Integer(allow_none=True)
    your_parts = fields.List(fields.String())
    allowed_actions = fields.List(fields.String(), metadata={
        "description": "What the caller may do now."})
    validations = fields.List(fields.Nested(ValidationViewSchema))
    signatures = fields.List(fields.Nested(SignatureViewSchema))
    document = fields.Nested(DocumentViewSchema, allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ExchangeListQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(lc.STATES))
    role = fields.String(validate=validate.OneOf(PARTIES))


class ExcludedDaySchema(Schema):
    date = fields.String()
    reason = fields.String()
    detail = fields.String()


class WorkingDaysSchema(Schema):
    country = fields.String()
    start = fields.String()
    end = fields.String()
    calendar_days = fields.Integer()
    working_days = fields.Integer()
    excluded = fields.List(fields.Nested(ExcludedDaySchema))


class WorkingDaysQuerySchema(Schema):
    start_date = IsoDate(required=True)
    end_date = IsoDate(required=True)
    travel_days_before = fields.Integer(load_default=0, validate=validate.Range(min=0, max=3))
    travel_days_after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=3))


class PlanRuleSchema(Schema):
    rule = fields.String()
    field = fields.String()
    passed = fields.Boolean()
    message = fields.String()


class PlanChecksSchema(Schema):
    submittable = fields.Boolean()
    rules = fields.List(fields.Nested(PlanRuleSchema))


class TimelineEntrySchema(Schema):
    at = fields.DateTime()
    party = fields.String()
    action = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)


class FinancialAgreementSchema(Schema):
    exchange_id = fields.String()
    version = fields.Integer()
    amount_cents = fields.Integer()
    quote = fields.Dict()
    account_holder = fields.String(allow_none=True)
    iban_masked = fields.String(allow_none=True)
    bic = fields.String(allow_none=True)
    vo_signed_at = fields.DateTime(allow_none=True)
    vop_signed_at = fields.DateTime(allow_none=True)
    signed = fields.Boolean()


class ClosingReportViewSchema(ClosingReportSchema):
    party = fields.String()
    submitted_at = fields.DateTime()


class ExchangeMonthSchema(Schema):
    month = fields.String(metadata={"description": "`YYYY-MM` of the start date, or `unknown`"})
    count = fields.Integer()
    states = fields.Dict(keys=fields.String(), values=fields.Integer())


class HostCountryMoneySchema(Schema):
    host_country = fields.String()
    committed_cents = fields.Integer(metadata={"description": "Signed financial agreements "
                                               "not yet paid, whole euro cents"})
    paid_cents = fields.Integer(metadata={"description": "Whole euro cents"})
    exchanges = fields.Integer()


class ExchangeStatisticsSchema(Schema):
    partnership_id = fields.String(allow_none=True, metadata={
        "description": "The partnership (as visitor's or host's) the figures are limited to; "
                       "null: the programme"})
    total = fields.Integer()
    by_state = fields.List(fields.Nested(CountSchema))
    by_host_country = fields.List(fields.Nested(CountSchema))
    by_partnership = fields.List(fields.Nested(CountSchema), metadata={
        "description": "By the visitor's partnership (the exchange counts toward it)"})
    by_month = fields.List(fields.Nested(ExchangeMonthSchema))
    lump_sums_by_host_country = fields.List(fields.Nested(HostCountryMoneySchema), metadata={
        "description": "The visitor's partnership's money: for a partnership, its own visitors"})
