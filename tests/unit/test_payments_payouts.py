"""A payout's states after approval."""

from __future__ import annotations

import pytest

from common.errors import InvalidState
from services.payments import payouts
from services.payments.payouts import APPROVED, BATCHED, FAILED, PAID, PAYOUT_STATES

EXPECTED = {
    (APPROVED, "batch"): BATCHED,
    (FAILED, "batch"): BATCHED,
    (BATCHED, "mark_paid"): PAID,
    (BATCHED, "mark_failed"): FAILED,
    (PAID, "mark_failed"): FAILED,
}


@pytest.mark.parametrize("state", PAYOUT_STATES)
@pytest.mark.parametrize("action", ["batch", "mark_paid", "mark_failed"])
def test_every_state_and_action(state, action):
    if (state, action) in EXPECTED:
        assert payouts.next_payout_state(state, action) == EXPECTED[(state, action)]
    else:
        with pytest.raises(InvalidState):
            payouts.next_payout_state(state, action)


def test_a_failed_payout_can_be_batched_again():
    assert FAILED in payouts.BATCHABLE_STATES
    assert payouts.next_payout_state(FAILED, "batch") == BATCHED


def test_a_paid_payout_is_never_batched_again():
    with pytest.raises(InvalidState):
        payouts.next_payout_state(PAID, "batch")
