"""A payout's life after approval, as plain Python: batched into a SEPA file, then paid, or
failed and batched again later."""

from __future__ import annotations

from common.errors import InvalidState

APPROVED = "approved"
BATCHED = "batched"
PAID = "paid"
FAILED = "failed"
PAYOUT_STATES = (APPROVED, BATCHED, PAID, FAILED)
# Approved and failed payouts wait for a batch; a failed one is retried in a later batch.
BATCHABLE_STATES = (APPROVED, FAILED)

PAYOUT_TRANSITIONS: dict[tuple[str, str], str] = {
    (APPROVED, "batch"): BATCHED,
    (FAILED, "batch"): BATCHED,
    (BATCHED, "mark_paid"): PAID,
    (BATCHED, "mark_failed"): FAILED,
    # The bank may return a transfer after the batch was marked paid: the ledger's `fail`
    # then moves the money from paid back to reserved.
    (PAID, "mark_failed"): FAILED,
}

BATCH_OPEN = "open"      # built; its SEPA file can be downloaded (again)
BATCH_SETTLED = "settled"  # every item marked paid or failed
BATCH_STATES = (BATCH_OPEN, BATCH_SETTLED)

ITEM_PENDING = "pending"
ITEM_PAID = "paid"
ITEM_FAILED = "failed"


def next_payout_state(state: str, action: str) -> str:
    try:
        return PAYOUT_TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidState(f"A {state} payout cannot be {action.replace('_', ' ')}.",
                           {"state": state, "action": action}) from None
