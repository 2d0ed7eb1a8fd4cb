"""Pending steps and their reminders, in plain Python.

Which event opens a step (and who must take it), which events complete it, and when its
reminders fall due: the first at `due_at`, then one per `repeat` interval, at most
`max_reminders`. A timer that was down sends only the current interval's reminder, never a
backlog of missed ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.notifications.domain import ACCOUNT, CONTACT_POINTS, OWNER, Rule

ASSESSMENT = "assessment"
VALIDATION = "validation"
SIGNATURE = "signature"
FINANCIAL_AGREEMENT = "financial_agreement"
CLOSING_REPORT = "closing_report"
EVIDENCE_REVIEW = "evidence_review"
PAYOUT = "payout"
CONTACT_ANSWER = "contact_answer"
KINDS = (ASSESSMENT, VALIDATION, SIGNATURE, FINANCIAL_AGREEMENT, CLOSING_REPORT, EVIDENCE_REVIEW,
         PAYOUT, CONTACT_ANSWER)

# The ids (and the reference) a step keeps from its opening event: enough to find its people
# again and to link to it; nothing personal.
SUBJECT_FIELDS = ("registration_id", "partnership_id", "exchange_id", "reference",
                  "visitor_registration_id", "host_registration_id", "visitor_partnership_id",
                  "host_partnership_id", "contact_id", "requester_registration_id",
                  "recipient_registration_id", "recipient_account_id", "payout_id", "due_on",
                  "end_date", "content_version")

_VISITOR = Rule("visitor", OWNER, "visitor_registration_id", True)
_HOST = Rule("host", OWNER, "host_registration_id", True)
_VOP = Rule("visitor_contact_point", CONTACT_POINTS, "visitor_partnership_id", True)
_HOP = Rule("host_contact_point", CONTACT_POINTS, "host_partnership_id", True)
# commitment_signed names the signing party; that party is no longer reminded.
SIGNATORY_RULES = {"vo": _VISITOR, "ho": _HOST, "vop": _VOP, "hop": _HOP}


@dataclass(frozen=True)
class StepSpec:
    kind: str
    subject_field: str  # the event field naming the step's subject
    opened_by: str
    completed_by: tuple[str, ...]
    rules: tuple[Rule, ...]


SPECS: tuple[StepSpec, ...] = (
    StepSpec(ASSESSMENT, "registration_id", "registration_submitted",
             ("registration_accepted", "registration_rejected", "registration_changes_requested",
              "registration_withdrawn"),
             (Rule("contact_point", CONTACT_POINTS, "partnership_id", True),)),
    StepSpec(VALIDATION, "exchange_id", "exchange_submitted",
             ("exchange_validated", "exchange_rejected", "exchange_cancelled"), (_VOP, _HOP)),
    StepSpec(SIGNATURE, "exchange_id", "exchange_validated",
             ("commitment_fully_signed", "exchange_cancelled"), (_VISITOR, _HOST, _VOP, _HOP)),
    StepSpec(FINANCIAL_AGREEMENT, "exchange_id", "commitment_fully_signed",
             ("financial_agreement_signed", "exchange_cancelled"), (_VISITOR, _VOP)),
    StepSpec(CLOSING_REPORT, "exchange_id", "exchange_completed",
             ("closing_report_submitted", "exchange_cancelled", "exchange_closed"), (_VISITOR,)),
    StepSpec(EVIDENCE_REVIEW, "exchange_id", "closing_report_submitted",
             ("payout_approved", "exchange_cancelled", "exchange_closed"), (_VOP,)),
    StepSpec(PAYOUT, "payout_id", "payout_approved", ("payout_paid",),
             (Rule("contact_point", CONTACT_POINTS, "partnership_id", True),)),
    StepSpec(CONTACT_ANSWER, "contact_id", "contact_requested",
             ("contact_accepted", "contact_declined", "contact_expired"),
             (Rule("recipient", ACCOUNT, "recipient_account_id", True),)),
)
SPEC_BY_KIND = {spec.kind: spec for spec in SPECS}


@dataclass(frozen=True)
class Settings:
    """Days, all configurable (NOTIFICATIONS["reminders"], .env.example REMINDER_*)."""

    assessment_days: float = 5
    validation_days: float = 5
    signature_days: float = 5
    financial_agreement_days: float = 5
    closing_report_days: float = 7  # after the stay's last day
    evidence_review_days: float = 5
    payout_grace_days: float = 0  # after the payout's due date (10 days after approval)
    contact_warning_days: float = 3  # before a contact request expires
    contact_expiry_days: float = 14  # matching's CONTACT_EXPIRY_DAYS
    repeat_days: float = 7
    max_reminders: int = 3

    @classmethod
    def from_config(cls, reminders: dict[str, Any] | None, contact_expiry_days: float | None) -> Settings:
        values = {key: value for key, value in (reminders or {}).items()
                  if key in cls.__dataclass_fields__}
        if contact_expiry_days is not None:
            values["contact_expiry_days"] = contact_expiry_days
        return cls(**values)


def parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _day_end(value: Any) -> datetime | None:
    """The end of a calendar day (UTC) named by an ISO date."""
    if not value:
        return None
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def first_due(kind: str, event: dict[str, Any], settings: Settings) -> datetime:
    """When the first reminder of a step opened by `event` falls due."""
    occurred = parse_time(event["occurred_at"])
    days = timedelta(days=1)
    if kind == CLOSING_REPORT:
        base = _day_end(event.get("end_date")) or occurred
        return max(base, occurred) + settings.closing_report_days * days
    if kind == PAYOUT:
        base = _day_end(event.get("due_on")) or occurred + 10 * days
        return base + settings.payout_grace_days * days
    if kind == CONTACT_ANSWER:
        expires = occurred + settings.contact_expiry_days * days
        return max(occurred, expires - settings.contact_warning_days * days)
    return occurred + getattr(settings, f"{kind}_days") * days


def reminder_number(due_at: datetime, now: datetime, settings: Settings) -> int:
    """The interval `now` falls in (1 from `due_at`, then one per `repeat_days`); 0 before
    `due_at`; never more than `max_reminders`."""
    if now < due_at:
        return 0
    repeat = timedelta(days=settings.repeat_days)
    n = int((now - due_at) / repeat) + 1 if repeat.total_seconds() > 0 else 1
    return min(n, settings.max_reminders)


def next_at(due_at: datetime, n: int, settings: Settings) -> datetime | None:
    """When the reminder after number `n` falls due, or None after the last."""
    if n >= settings.max_reminders:
        return None
    return due_at + n * timedelta(days=settings.repeat_days)


def opened(event: dict[str, Any]) -> list[StepSpec]:
    event_type = event.get("event_type")
    specs = [spec for spec in SPECS if spec.opened_by == event_type and event.get(spec.subject_field)]
    if event_type == "closing_report_submitted" and not event.get("amount_cents"):
        # Nothing to pay (a virtual exchange): no evidence to review.
        specs = [spec for spec in specs if spec.kind != EVIDENCE_REVIEW]
    return specs


def completed(event: dict[str, Any]) -> list[StepSpec]:
    event_type = event.get("event_type")
    return [spec for spec in SPECS if event_type in spec.completed_by and event.get(spec.subject_field)]


def step_key(spec: StepSpec, event: dict[str, Any]) -> str:
    return f"{spec.kind}:{event[spec.subject_field]}"


def subject_of(event: dict[str, Any]) -> dict[str, Any]:
    return {name: str(event[name]) for name in SUBJECT_FIELDS if event.get(name) is not None}


def rules_as_rows(rules: tuple[Rule, ...] | list[Rule]) -> list[list[Any]]:
    return [[rule.role, rule.selector, rule.field] for rule in rules]


def rules_from_rows(rows: list[list[Any]]) -> list[Rule]:
    return [Rule(role, selector, field_name, True) for role, selector, field_name in rows]


def still_to_act(rows: list[list[Any]], done: list[list[Any]], subject: dict[str, Any]) -> list[list[Any]]:
    """A step's people without the parties (vo, ho, vop, hop) that signed the version of the
    document the step is about."""
    version = str(subject.get("content_version") or "")
    roles = {SIGNATORY_RULES[party].role for signed_version, party in done
             if party in SIGNATORY_RULES and str(signed_version or "") == version}
    return [row for row in rows if row[0] not in roles]
