"""The exchange's life as a table: which action is allowed in which state, where it leads,
and which party may take it.

Parties, as the agreements service sees a caller for one exchange: `vo` (the visiting
organisation's participant), `ho` (the host's), `vop` / `hop` (contact points of their
partnerships), `admin`, and `system` (timers and events from other services).

Some actions only complete a step when everyone concerned has acted: `validate` needs both
partnerships, `sign` the four signatures, `sign_financial_agreement` the VO and its VOP. The
service records each party's act and applies the transition when the last one is in; the
table says where that transition leads.
"""

from __future__ import annotations

from common.errors import InvalidState, NotAllowed

PROPOSED = "proposed"
DRAFT = "draft"
SUBMITTED = "submitted"
VALIDATED = "validated"
SIGNED = "signed"
READY = "ready"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
REPORTED = "reported"
APPROVED = "approved"
PAID = "paid"
CLOSED = "closed"
REJECTED = "rejected"
CANCELLED = "cancelled"

STATES = (PROPOSED, DRAFT, SUBMITTED, VALIDATED, SIGNED, READY, IN_PROGRESS, COMPLETED,
          REPORTED, APPROVED, PAID, CLOSED, REJECTED, CANCELLED)
# Nobody acts on them; only a transfer the bank returns reopens a closed exchange.
FINAL_STATES = (CLOSED, CANCELLED)

CONFIRM = "confirm"
DECLINE = "decline"
EDIT = "edit"
SUBMIT = "submit"
VALIDATE = "validate"
REJECT = "reject"
SIGN = "sign"
SIGN_FINANCIAL_AGREEMENT = "sign_financial_agreement"
START = "start"
COMPLETE = "complete"
REPORT = "report"
HOST_REPORT = "host_report"
APPROVE_PAYOUT = "approve_payout"
PAY = "pay"
RETURN_PAYOUT = "return_payout"
CLOSE = "close"
CANCEL = "cancel"

ACTIONS = (CONFIRM, DECLINE, EDIT, SUBMIT, VALIDATE, REJECT, SIGN, SIGN_FINANCIAL_AGREEMENT,
           START, COMPLETE, REPORT, HOST_REPORT, APPROVE_PAYOUT, PAY, RETURN_PAYOUT, CLOSE, CANCEL)

# Content may change until the money is committed; a change after validation sends the
# exchange back to its contact points (and voids the signatures).
EDITABLE = {DRAFT: DRAFT, REJECTED: DRAFT, SUBMITTED: SUBMITTED, VALIDATED: SUBMITTED,
            SIGNED: SUBMITTED}
# Cancellable until the payout is approved: from then on the money is committed to a
# payment run, and a refusal goes through payments (a failed payout), not a cancellation.
CANCELLABLE = (PROPOSED, DRAFT, REJECTED, SUBMITTED, VALIDATED, SIGNED, READY, IN_PROGRESS,
               COMPLETED, REPORTED)

TRANSITIONS: dict[tuple[str, str], str] = {
    (PROPOSED, CONFIRM): DRAFT,
    (PROPOSED, DECLINE): CANCELLED,
    **{(state, EDIT): target for state, target in EDITABLE.items()},
    (DRAFT, SUBMIT): SUBMITTED,
    (REJECTED, SUBMIT): SUBMITTED,
    (SUBMITTED, VALIDATE): VALIDATED,
    (SUBMITTED, REJECT): REJECTED,
    (VALIDATED, SIGN): SIGNED,
    (SIGNED, SIGN_FINANCIAL_AGREEMENT): READY,
    (READY, START): IN_PROGRESS,
    (IN_PROGRESS, COMPLETE): COMPLETED,
    (COMPLETED, REPORT): REPORTED,
    # The host's report is optional and may come before or after the visitor's.
    (COMPLETED, HOST_REPORT): COMPLETED,
    (REPORTED, HOST_REPORT): REPORTED,
    (REPORTED, APPROVE_PAYOUT): APPROVED,
    (APPROVED, PAY): PAID,
    (PAID, CLOSE): CLOSED,
    # The bank returned the transfer (payments' `payout_failed` after `payout_paid`): the
    # exchange waits for the payment again, and the next `payout_paid` closes it once more.
    (PAID, RETURN_PAYOUT): APPROVED,
    (CLOSED, RETURN_PAYOUT): APPROVED,
    **{(state, CANCEL): CANCELLED for state in CANCELLABLE},
}

PARTIES = ("vo", "ho", "vop", "hop", "admin", "system")

ACTORS: dict[str, frozenset[str]] = {
    # The service also checks that the one who confirms or declines is not the proposer.
    CONFIRM: frozenset({"vo", "ho"}),
    DECLINE: frozenset({"vo", "ho"}),
    EDIT: frozenset({"vo", "ho"}),
    SUBMIT: frozenset({"vo", "ho"}),
    VALIDATE: frozenset({"vop", "hop"}),
    REJECT: frozenset({"vop", "hop"}),
    # Each signature only by its own party: the service checks which one is signing.
    SIGN: frozenset({"vo", "ho", "vop", "hop"}),
    SIGN_FINANCIAL_AGREEMENT: frozenset({"vo", "vop"}),
    START: frozenset({"system"}),
    COMPLETE: frozenset({"system"}),
    REPORT: frozenset({"vo"}),
    HOST_REPORT: frozenset({"ho"}),
    APPROVE_PAYOUT: frozenset({"system"}),
    PAY: frozenset({"system"}),
    RETURN_PAYOUT: frozenset({"system"}),
    CLOSE: frozenset({"system", "admin"}),
    CANCEL: frozenset({"vo", "ho", "vop", "hop", "admin"}),
}

LABELS = {
    CONFIRM: "confirm the exchange", DECLINE: "decline the proposal", EDIT: "edit the plan",
    SUBMIT: "submit for validation", VALIDATE: "validate", REJECT: "reject",
    SIGN: "sign the commitment to quality",
    SIGN_FINANCIAL_AGREEMENT: "sign the financial agreement", START: "start the stay",
    COMPLETE: "complete the stay", REPORT: "submit the closing report",
    HOST_REPORT: "submit the host's closing report", APPROVE_PAYOUT: "approve the payout",
    PAY: "record the payment", RETURN_PAYOUT: "record a returned payment", CLOSE: "close", CANCEL: "cancel",
}


def allowed_actions(state: str) -> list[str]:
    return [action for action in ACTIONS if (state, action) in TRANSITIONS]


def next_state(state: str, action: str) -> str:
    """Where `action` leads from `state`, or a conflict naming what the state allows."""
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}")
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    target = TRANSITIONS.get((state, action))
    if target is None:
        possible = allowed_actions(state)
        allowed = ", ".join(LABELS[a] for a in possible) if possible else "nothing more"
        raise InvalidState(f"A {state.replace('_', ' ')} exchange cannot {LABELS[action]}; "
                           f"what it allows now: {allowed}.")
    return target


def ensure_actor(action: str, parties: frozenset[str] | set[str]) -> None:
    """NotAllowed unless one of the caller's parties may take `action`."""
    if not ACTORS[action].intersection(parties):
        raise NotAllowed(f"Your part in this exchange does not allow you to {LABELS[action]}.")
