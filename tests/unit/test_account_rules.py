"""Administrators' rules about accounts, without a database or a broker."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.errors import InvalidState, NotAllowed, StaleVersion, ValidationFailed
from services.registration import account_rules as rules
from services.registration import domain

NOW = datetime(2026, 12, 5, 10, tzinfo=UTC)


def test_suspension_wins_over_verification_in_the_status():
    assert rules.status_of(None, NOW) == "active"
    assert rules.status_of(None, None) == "unverified"
    assert rules.status_of(NOW, NOW) == "suspended"
    assert rules.status_of(NOW, None) == "suspended"


def test_only_an_administrator_manages_accounts():
    rules.ensure_admin(frozenset({"admin"}))
    for roles in ({"participant"}, {"support_agent"}, {"partnership_contact"}, {"backoffice"},
                  {"service"}, set()):
        with pytest.raises(NotAllowed):
            rules.ensure_admin(frozenset(roles))


def test_a_stale_version_is_refused_and_no_version_is_not_checked():
    rules.ensure_version(3, 3)
    rules.ensure_version(3, None)
    with pytest.raises(StaleVersion):
        rules.ensure_version(3, 2)


def test_an_administrator_cannot_remove_their_own_admin_role():
    rules.ensure_not_self_demotion("me", "me", ["admin", "support_agent"])
    rules.ensure_not_self_demotion("me", "someone", ["support_agent"])
    with pytest.raises(NotAllowed):
        rules.ensure_not_self_demotion("me", "me", ["support_agent"])


def test_nobody_suspends_themselves_or_an_account_twice():
    rules.ensure_may_suspend("me", "someone", None)
    with pytest.raises(NotAllowed):
        rules.ensure_may_suspend("me", "me", None)
    with pytest.raises(InvalidState):
        rules.ensure_may_suspend("me", "someone", NOW)
    rules.ensure_may_reactivate(NOW)
    with pytest.raises(InvalidState):
        rules.ensure_may_reactivate(None)


def test_a_contact_point_needs_a_partnership_named_in_the_callers_field():
    domain.ensure_staff_account(["support_agent"], None, field="partnership_id")
    with pytest.raises(ValidationFailed) as refused:
        domain.ensure_staff_account(["partnership_contact"], None, field="partnership_id")
    assert "partnership_id" in refused.value.errors
    with pytest.raises(ValidationFailed) as cli:
        domain.ensure_staff_account(["partnership_contact"], None)
    assert "partnership_code" in cli.value.errors


def test_changes_list_only_what_differs():
    before = {"roles": ["participant"], "partnership_id": None}
    assert rules.changes(before, {"roles": ["participant"], "partnership_id": None}) == {}
    assert rules.changes(before, {"roles": ["admin"], "partnership_id": None}) == {
        "roles": {"from": ["participant"], "to": ["admin"]}}
    assert rules.normalised_roles(["admin", "support_agent", "admin"]) == ["admin", "support_agent"]
