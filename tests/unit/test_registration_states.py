"""The registration state machine and who may act on a registration."""

from __future__ import annotations

import pytest

from common.auth import Caller
from common.errors import InvalidState, NotAllowed, NotFound
from services.registration import domain


def caller(roles, account="a1", partnership=None) -> Caller:
    return Caller(account_id=account, roles=frozenset(roles), partnership_id=partnership)


@pytest.mark.parametrize("status", ["draft", "changes_requested"])
def test_drafts_and_returned_registrations_can_be_submitted(status):
    assert domain.next_state_on_submit(status) == "submitted"


@pytest.mark.parametrize("status", ["submitted", "accepted", "rejected", "withdrawn"])
def test_other_states_cannot_be_submitted(status):
    with pytest.raises(InvalidState):
        domain.next_state_on_submit(status)


@pytest.mark.parametrize("decision,state", [("accept", "accepted"), ("reject", "rejected"),
                                            ("request_changes", "changes_requested")])
def test_assessment_decisions(decision, state):
    assert domain.next_state_on_assessment("submitted", decision) == state


@pytest.mark.parametrize("status", ["draft", "accepted", "rejected", "changes_requested"])
def test_only_submitted_registrations_are_assessed(status):
    with pytest.raises(InvalidState):
        domain.next_state_on_assessment(status, "accept")


@pytest.mark.parametrize("status", ["rejected", "withdrawn"])
def test_final_states_cannot_be_withdrawn(status):
    with pytest.raises(InvalidState):
        domain.next_state_on_withdraw(status)


def test_accepted_registration_freezes_eligibility_fields():
    domain.ensure_editable("accepted", {"motivation", "preferences"})
    with pytest.raises(InvalidState):
        domain.ensure_editable("accepted", {"organisation"})
    with pytest.raises(InvalidState):
        domain.ensure_editable("submitted", {"motivation"})


def test_visibility():
    owner = caller(["participant"], "owner")
    assert domain.can_view(owner, "owner", "p1")
    assert not domain.can_view(caller(["participant"], "other"), "owner", "p1")
    assert domain.can_view(caller(["partnership_contact"], "c", "p1"), "owner", "p1")
    assert not domain.can_view(caller(["partnership_contact"], "c", "p2"), "owner", "p1")
    assert domain.can_view(caller(["admin"], "adm"), "owner", "p1")
    assert not domain.can_view(caller(["support_agent"], "s"), "owner", "p1")
    with pytest.raises(NotFound):
        domain.ensure_visible(caller(["participant"], "other"), "owner", "p1")


def test_only_the_chosen_partnerships_contact_assesses():
    domain.ensure_assessor(caller(["partnership_contact"], "c", "p1"), "p1")
    domain.ensure_assessor(caller(["admin"]), "p1")
    with pytest.raises(NotAllowed):
        domain.ensure_assessor(caller(["partnership_contact"], "c", "p2"), "p1")
    with pytest.raises(NotAllowed):
        domain.ensure_assessor(caller(["participant"], "owner"), "p1")


def test_public_profile_leaves_out_personal_data():
    reg = {"id": "r", "reference": "CX-1", "account_id": "a", "partnership_id": "p",
           "status": "accepted", "version": 3, "roles": ["host"],
           "organisation": {"name": "Org", "country": "DE"},
           "representative": {"first_name": "A", "email": "a@b.eu", "date_of_birth": "1990-01-01",
                              "phone": "+49", "position": "CEO"},
           "preferences": {"sectors": ["digital"]}}
    profile = domain.public_profile(reg)
    assert profile["representative"] == {"position": "CEO"}
    assert "date_of_birth" not in str(profile) and "a@b.eu" not in str(profile)
