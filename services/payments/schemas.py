"""The payments contract: what the service accepts and returns (also the OpenAPI source).

Importing this module also registers payments' error classes for RPC (see
services.payments.exceptions): a caller that imports the contract gets a NoLumpSumRate or an
InsufficientBudget back as itself, with its status, instead of a RemoteError.
"""

from __future__ import annotations

from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

import services.payments.exceptions  # noqa: F401 - registers payments' errors for RPC
from common import reference
from common.schemas import COUNTRY, IsoDate, PageQuerySchema
from services.payments.quote import MODES, PHYSICAL


def _cents(description: str = "Whole euro cents.", **kwargs: object) -> fields.Integer:
    # strict: 780.5 or "780" is refused, never rounded into an amount.
    return fields.Integer(strict=True, metadata={"description": description}, **kwargs)


def _participating(value: str) -> None:
    if value not in reference.country_codes():
        raise ValidationError("Not a country participating in the programme.")


class QuoteQuerySchema(Schema):
    """A quote from the figures alone (the public quote)."""

    host_country = fields.String(required=True, validate=COUNTRY)
    working_days = fields.Integer(required=True, validate=validate.Range(min=1, max=31))
    mode = fields.String(load_default=PHYSICAL, validate=validate.OneOf(MODES))
    distance_km = fields.Float(allow_none=True, load_default=None, validate=validate.Range(min=0),
                               metadata={"description": "Great-circle km between the two "
                                                        "organisations; unknown: not halved for it."})
    on_date = IsoDate(allow_none=True, load_default=None,
                      metadata={"description": "The rates in force on this day (default: today)."})


class ExchangeQuoteRequestSchema(Schema):
    """What agreements sends for an exchange's financial agreement."""

    host_country = fields.String(required=True, validate=COUNTRY)
    working_days = fields.Integer(required=True, validate=validate.Range(min=0, max=31))
    mode = fields.String(load_default=PHYSICAL, allow_none=True, validate=validate.OneOf(MODES))
    visitor_registration_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    host_registration_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    on_date = IsoDate(allow_none=True, load_default=None)


class RuleAppliedSchema(Schema):
    code = fields.String()
    text = fields.String()


class QuoteSchema(Schema):
    host_country = fields.String()
    mode = fields.String()
    working_days = fields.Integer()
    distance_km = fields.Float(allow_none=True)
    amount_cents = _cents()
    full_rate_cents = _cents()
    threshold_cents = _cents()
    halved = fields.Boolean()
    rules = fields.List(fields.Nested(RuleAppliedSchema),
                        metadata={"description": "Which rules gave the amount, in words."})
    rate_version = fields.Integer(allow_none=True)
    rate_valid_from = IsoDate(allow_none=True)


class ReserveForExchangeSchema(Schema):
    exchange_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    partnership_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    amount_cents = _cents(required=True, validate=validate.Range(min=0, max=10**13))


class BudgetCheckSchema(Schema):
    fits = fields.Boolean()
    available_cents = _cents("Whole euro cents; only for the partnership's contact points and "
                             "administrators.", allow_none=True)
    detail = fields.String(allow_none=True)


class SetBudgetSchema(Schema):
    budget_cents = _cents(required=True, validate=validate.Range(min=0, max=10**13))
    version = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0), metadata={
        "description": "The budget's `version` you read (0: none yet); or send If-Match. "
                       "Set since then: 409."})


class FundsFigureSchema(Schema):
    exchanges = fields.Integer()
    amount_cents = _cents()


class BudgetKpisSchema(Schema):
    reserved = fields.Nested(FundsFigureSchema)
    paid = fields.Nested(FundsFigureSchema)
    released = fields.Nested(FundsFigureSchema, metadata={"description": "Cancelled exchanges."})


class BudgetSchema(Schema):
    partnership_id = fields.String()
    budget_cents = _cents()
    available_cents = _cents()
    reserved_cents = _cents()
    paid_cents = _cents()
    updated_at = fields.DateTime(allow_none=True)
    version = fields.Integer(metadata={"description": "How many times the envelope was set; "
                                                      "also the ETag."})
    kpis = fields.Nested(BudgetKpisSchema)


class BudgetListQuerySchema(PageQuerySchema):
    pass


class LumpSumRateSchema(Schema):
    country = fields.String()
    country_name = fields.String()
    amount_cents = _cents()
    valid_from = IsoDate()
    valid_to = IsoDate(allow_none=True)
    version = fields.Integer()


class LumpSumTableSchema(Schema):
    threshold_cents = _cents()
    rates = fields.List(fields.Nested(LumpSumRateSchema))


class SetLumpSumSchema(Schema):
    country = fields.String(required=True, validate=[COUNTRY, _participating])
    amount_cents = _cents(required=True, validate=validate.Range(min=1))
    valid_from = IsoDate(load_default=None, allow_none=True,
                         metadata={"description": "First day the figure applies (default: today)."})
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class RateChangeSchema(Schema):
    country = fields.String()
    old_amount_cents = _cents(allow_none=True)
    new_amount_cents = _cents()
    valid_from = IsoDate()
    changed_by = fields.String()
    changed_at = fields.DateTime()
    reason = fields.String()


class RateChangeQuerySchema(Schema):
    country = fields.String(load_default=None, allow_none=True, validate=COUNTRY)


# --- claims, evidence, payouts, batches ----------------------------------------------------

class EvidenceSchema(Schema):
    id = fields.String()
    sha256 = fields.String()
    size = fields.Integer()
    content_type = fields.String()
    filename = fields.String(allow_none=True)
    uploaded_at = fields.DateTime()


class PayoutSchema(Schema):
    id = fields.String()
    exchange_id = fields.String()
    exchange_reference = fields.String()
    claim_id = fields.String()
    partnership_id = fields.String()
    amount_cents = _cents()
    state = fields.String(metadata={"description": "approved, batched, paid or failed."})
    approved_at = fields.DateTime()
    due_on = IsoDate()
    overdue = fields.Boolean(metadata={"description": "Not paid and past its due date."})
    paid_at = fields.DateTime(allow_none=True)
    failed_at = fields.DateTime(allow_none=True)
    failure_reason = fields.String(allow_none=True)
    attempts = fields.Integer(metadata={"description": "Batches it went out in."})


class ClaimSchema(Schema):
    id = fields.String()
    exchange_id = fields.String()
    exchange_reference = fields.String()
    partnership_id = fields.String()
    state = fields.String(metadata={"description": "draft, submitted, changes_requested or approved."})
    version = fields.Integer()
    submitted_at = fields.DateTime(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    review_comment = fields.String(allow_none=True)
    evidence = fields.List(fields.Nested(EvidenceSchema))
    payout = fields.Nested(PayoutSchema, allow_none=True)


class AddEvidenceSchema(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=200))
    filename = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class SubmitClaimSchema(Schema):
    version = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))


class ApproveClaimSchema(SubmitClaimSchema):
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class RequestChangesSchema(SubmitClaimSchema):
    comment = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                            metadata={"description": "What the visitor must add or correct."})


class ClaimListQuerySchema(PageQuerySchema):
    state = fields.String(load_default=None, validate=validate.OneOf(
        ("draft", "submitted", "changes_requested", "approved")))


class PayoutListQuerySchema(PageQuerySchema):
    state = fields.String(load_default=None, validate=validate.OneOf(
        ("approved", "batched", "paid", "failed")))
    overdue = fields.Boolean(load_default=False)
    partnership_id = fields.String(load_default=None, validate=validate.Length(max=64))


class BatchItemSchema(Schema):
    payout_id = fields.String()
    exchange_id = fields.String()
    amount_cents = _cents()
    end_to_end_id = fields.String()
    outcome = fields.String(metadata={"description": "pending, paid or failed."})


class BatchSchema(Schema):
    id = fields.String()
    partnership_id = fields.String()
    state = fields.String(metadata={"description": "open or settled."})
    payout_count = fields.Integer()
    total_cents = _cents()
    message_id = fields.String()
    execution_date = IsoDate()
    created_at = fields.DateTime()
    settled_at = fields.DateTime(allow_none=True)
    items = fields.List(fields.Nested(BatchItemSchema))


class CreateBatchSchema(Schema):
    partnership_id = fields.String(load_default=None, validate=validate.Length(max=64), metadata={
        "description": "Whose payouts (a contact point's own partnership by default)."})
    payout_ids = fields.List(fields.String(validate=validate.Length(max=64)), load_default=None,
                             validate=validate.Length(min=1, max=10_000))
    execution_date = IsoDate(load_default=None, allow_none=True)


class BatchListQuerySchema(PageQuerySchema):
    partnership_id = fields.String(load_default=None, validate=validate.Length(max=64))


class FailPayoutSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


# --- the SEPA file and the account it debits ---------------------------------------------------

class SetDebtorAccountSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=70))
    iban = fields.String(required=True, validate=validate.Length(min=15, max=42))
    bic = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=8, max=11))


class DebtorAccountSchema(Schema):
    partnership_id = fields.String()
    name = fields.String()
    iban_masked = fields.String()
    bic = fields.String(allow_none=True)
    updated_at = fields.DateTime()


class SepaFileSchema(Schema):
    filename = fields.String()
    content_type = fields.String()
    schema = fields.String(metadata={"description": "pain.001.001.09 or pain.001.001.03."})
    message_id = fields.String()
    transaction_count = fields.Integer()
    control_sum_cents = _cents()
    xml = fields.String(metadata={"description": "The pain.001 document (UTF-8)."})


class LumpSumSetSchema(Schema):
    """A new figure of the table and the change recorded for it."""

    rate = fields.Nested(LumpSumRateSchema)
    change = fields.Nested(RateChangeSchema)


_HISTORY_DAYS = validate.Range(min=date(2000, 1, 1), max=date(2199, 12, 31),
                               error="Use a day between 2000-01-01 and 2199-12-31.")


class BudgetHistoryQuerySchema(Schema):
    from_ = IsoDate(data_key="from", load_default=None, validate=_HISTORY_DAYS,
                    metadata={"description": "First day (default: the first movement, or a "
                              "year before `to`)"})
    to = IsoDate(load_default=None, validate=_HISTORY_DAYS,
                 metadata={"description": "Last day (default: today, UTC)"})
    interval = fields.String(load_default=None, validate=validate.OneOf(("day", "week")),
                             metadata={"description": "One point per day or per week (Monday) "
                                       "with movements; default: days up to 400 of them"})

    @validates_schema
    def _period(self, data: dict, **kwargs: object) -> None:
        since, until = data.get("from_"), data.get("to")
        if since and until and since > until:
            raise ValidationError("Must not be after `to`.", "from")
        if since and until and (until - since).days > 3660:
            raise ValidationError("At most ten years.", "from")


class BudgetPointSchema(Schema):
    date = IsoDate()
    budget_cents = _cents()
    reserved_cents = _cents()
    paid_cents = _cents()
    available_cents = _cents()


class BudgetHistorySchema(Schema):
    partnership_id = fields.String()
    interval = fields.String()
    from_ = IsoDate(data_key="from")
    to = IsoDate()
    points = fields.List(fields.Nested(BudgetPointSchema), metadata={
        "description": "The balance at the end of the first day, of each day (week) with "
                       "movements, and of the last day"})


class PartnershipMoneySchema(Schema):
    partnership_id = fields.String()
    budget_cents = _cents()
    reserved_cents = _cents("Committed: reserved for signed financial agreements, not yet paid.")
    paid_cents = _cents()
    available_cents = _cents()
    reserved_exchanges = fields.Integer()
    paid_exchanges = fields.Integer()
    released_exchanges = fields.Integer()


class PaymentStatisticsSchema(Schema):
    partnership_id = fields.String(allow_none=True, metadata={
        "description": "The partnership the figures are limited to; null: the programme"})
    totals = fields.Nested(PartnershipMoneySchema(exclude=("partnership_id",)))
    by_partnership = fields.List(fields.Nested(PartnershipMoneySchema))
