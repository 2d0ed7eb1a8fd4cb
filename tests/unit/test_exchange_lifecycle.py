"""The exchange's state table: every state against every action."""

from __future__ import annotations

import pytest

from common.errors import InvalidState, NotAllowed
from services.agreements import domain
from services.agreements import lifecycle as lc

ALL_PAIRS = [(state, action) for state in lc.STATES for action in lc.ACTIONS]


@pytest.mark.parametrize(("state", "action"), ALL_PAIRS)
def test_every_state_and_action_either_leads_somewhere_or_names_what_is_allowed(state, action):
    if (state, action) in lc.TRANSITIONS:
        assert lc.next_state(state, action) in lc.STATES
    else:
        with pytest.raises(InvalidState) as refused:
            lc.next_state(state, action)
        message = str(refused.value)
        assert state.replace("_", " ") in message
        for allowed in lc.allowed_actions(state):
            assert lc.LABELS[allowed] in message


def test_the_happy_path_runs_from_proposal_to_closed():
    state = lc.PROPOSED
    for action in (lc.CONFIRM, lc.SUBMIT, lc.VALIDATE, lc.SIGN, lc.SIGN_FINANCIAL_AGREEMENT,
                   lc.START, lc.COMPLETE, lc.REPORT, lc.APPROVE_PAYOUT, lc.PAY, lc.CLOSE):
        state = lc.next_state(state, action)
    assert state == lc.CLOSED


@pytest.mark.parametrize("state", [lc.VALIDATED, lc.SIGNED])
def test_an_edit_after_validation_sends_the_exchange_back_to_its_contact_points(state):
    assert lc.next_state(state, lc.EDIT) == lc.SUBMITTED


def test_a_rejected_exchange_goes_back_to_draft_when_edited_and_can_be_resubmitted():
    assert lc.next_state(lc.SUBMITTED, lc.REJECT) == lc.REJECTED
    assert lc.next_state(lc.REJECTED, lc.EDIT) == lc.DRAFT
    assert lc.next_state(lc.REJECTED, lc.SUBMIT) == lc.SUBMITTED


@pytest.mark.parametrize("state", [lc.READY, lc.IN_PROGRESS, lc.COMPLETED, lc.PAID, lc.CLOSED])
def test_the_plan_cannot_change_once_the_financial_agreement_is_signed(state):
    with pytest.raises(InvalidState):
        lc.next_state(state, lc.EDIT)


@pytest.mark.parametrize("state", [lc.APPROVED, lc.PAID, lc.CLOSED, lc.CANCELLED])
def test_nothing_approved_for_payment_or_finished_can_be_cancelled(state):
    with pytest.raises(InvalidState):
        lc.next_state(state, lc.CANCEL)


@pytest.mark.parametrize("state", [s for s in lc.STATES
                                   if s not in (lc.APPROVED, lc.PAID, lc.CLOSED, lc.CANCELLED)])
def test_everything_before_the_payout_is_approved_can_be_cancelled(state):
    assert lc.next_state(state, lc.CANCEL) == lc.CANCELLED


def test_final_states_allow_nothing_but_a_returned_payment():
    assert lc.allowed_actions(lc.CANCELLED) == []
    assert lc.allowed_actions(lc.CLOSED) == [lc.RETURN_PAYOUT]
    assert lc.ACTORS[lc.RETURN_PAYOUT] == {"system"}


def test_a_returned_payment_sends_a_paid_or_closed_exchange_back_to_approved():
    assert lc.next_state(lc.PAID, lc.RETURN_PAYOUT) == lc.APPROVED
    assert lc.next_state(lc.CLOSED, lc.RETURN_PAYOUT) == lc.APPROVED
    assert lc.next_state(lc.APPROVED, lc.PAY) == lc.PAID


@pytest.mark.parametrize(("older", "newer"), [
    ({"event_type": "payout_approved", "attempt": 0}, {"event_type": "payout_paid", "attempt": 1}),
    ({"event_type": "payout_paid", "attempt": 1}, {"event_type": "payout_failed", "attempt": 1}),
    ({"event_type": "payout_failed", "attempt": 1}, {"event_type": "payout_paid", "attempt": 2}),
    ({"event_type": "payout_failed", "attempt": 1}, {"event_type": "payout_failed", "attempt": 2}),
])
def test_payout_events_are_ordered_by_attempt_then_step(older, newer):
    assert domain.payout_position(older) < domain.payout_position(newer)


def test_a_payout_event_from_before_attempts_were_counted_is_placed_by_its_step():
    assert domain.payout_position({"event_type": "payout_paid"}) > domain.payout_position(
        {"event_type": "payout_approved"})


def test_every_state_but_the_first_is_reachable():
    reachable = {lc.PROPOSED}
    frontier = [lc.PROPOSED]
    while frontier:
        state = frontier.pop()
        for action in lc.allowed_actions(state):
            target = lc.TRANSITIONS[(state, action)]
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(lc.STATES)


def test_every_action_names_who_may_take_it():
    assert set(lc.ACTORS) == set(lc.ACTIONS)
    for parties in lc.ACTORS.values():
        assert parties <= set(lc.PARTIES)


def test_the_host_may_not_sign_the_visitors_financial_agreement():
    with pytest.raises(NotAllowed):
        lc.ensure_actor(lc.SIGN_FINANCIAL_AGREEMENT, {"ho"})
    lc.ensure_actor(lc.SIGN_FINANCIAL_AGREEMENT, {"vo"})


def test_contact_points_validate_and_participants_do_not():
    lc.ensure_actor(lc.VALIDATE, {"hop"})
    with pytest.raises(NotAllowed):
        lc.ensure_actor(lc.VALIDATE, {"vo", "ho"})


def test_timers_and_other_services_move_the_stay_not_people():
    for action in (lc.START, lc.COMPLETE, lc.APPROVE_PAYOUT, lc.PAY):
        with pytest.raises(NotAllowed):
            lc.ensure_actor(action, {"vo", "ho", "vop", "hop", "admin"})
        lc.ensure_actor(action, {"system"})
