"""Evidence and the payment claim, as plain Python.

The visitor uploads evidence (invoices, boarding passes) and submits the claim; the
contact point of the visitor's partnership approves it or asks for more. The approved
payout is due within 10 days of approval and is flagged overdue after that.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from common.errors import InvalidState
from common.storage import check_document

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
EVIDENCE_TYPES = frozenset({PDF, JPEG, PNG})
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
PAYMENT_DUE_DAYS = 10

DRAFT = "draft"
SUBMITTED = "submitted"
APPROVED = "approved"
CHANGES_REQUESTED = "changes_requested"
CLAIM_STATES = (DRAFT, SUBMITTED, APPROVED, CHANGES_REQUESTED)

SUBMIT = "submit"
APPROVE = "approve"
REQUEST_CHANGES = "request_changes"
CLAIM_ACTIONS = (SUBMIT, APPROVE, REQUEST_CHANGES)

# (state, action) → next state; anything not listed is refused. Approval is final: the
# payout it creates is what moves on from there.
CLAIM_TRANSITIONS: dict[tuple[str, str], str] = {
    (DRAFT, SUBMIT): SUBMITTED,
    (CHANGES_REQUESTED, SUBMIT): SUBMITTED,
    (SUBMITTED, APPROVE): APPROVED,
    (SUBMITTED, REQUEST_CHANGES): CHANGES_REQUESTED,
}
# Evidence can be added or removed only while the visitor holds the claim.
EVIDENCE_EDITABLE_STATES = (DRAFT, CHANGES_REQUESTED)


def check_evidence(data: bytes, max_bytes: int = EVIDENCE_MAX_BYTES) -> str:
    """The content type sniffed from the bytes (PDF, JPEG or PNG), or 413 / 415."""
    return check_document(data, EVIDENCE_TYPES, max_bytes)


def next_claim_state(state: str, action: str) -> str:
    try:
        return CLAIM_TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidState(f"{_a(state)} claim cannot be {_PAST[action]}.",
                           {"state": state, "action": action}) from None


def _a(state: str) -> str:
    words = state.replace("_", " ")
    return f"An {words}" if words[0] in "aeiou" else f"A {words}"


_PAST = {SUBMIT: "submitted", APPROVE: "approved", REQUEST_CHANGES: "returned for changes"}


def ensure_evidence_editable(state: str) -> None:
    if state not in EVIDENCE_EDITABLE_STATES:
        raise InvalidState(f"Evidence of {_a(state).lower()} claim cannot be changed.",
                           {"state": state})


def ensure_submittable(state: str, evidence_count: int) -> None:
    next_claim_state(state, SUBMIT)
    if evidence_count == 0:
        raise InvalidState("Upload at least one piece of evidence before submitting the claim.",
                           {"evidence": ["At least one file is needed."]})


def due_on(approved_at: datetime, due_days: int = PAYMENT_DUE_DAYS) -> date:
    """Payment is due within `due_days` calendar days of approval (the day itself included)."""
    return approved_at.date() + timedelta(days=due_days)


def is_overdue(due: date, today: date, paid: bool) -> bool:
    return not paid and today > due
