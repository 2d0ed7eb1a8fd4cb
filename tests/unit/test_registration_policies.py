"""Registration's lockout policy and edit-merge rules as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.errors import ValidationFailed
from services.registration import domain

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def test_the_account_locks_at_the_last_allowed_failure_and_the_count_starts_over():
    policy = domain.LockoutPolicy(max_failures=3, lockout_seconds=600)
    assert policy.after_failure(1, NOW) == (1, None)
    assert policy.after_failure(2, NOW) == (2, None)
    assert policy.after_failure(3, NOW) == (0, NOW + timedelta(seconds=600))


def test_a_lock_holds_until_its_time_and_not_a_moment_more():
    policy = domain.LockoutPolicy.from_config({"login_max_failures": 5, "lockout_seconds": 900})
    assert policy.is_locked(NOW + timedelta(seconds=1), NOW)
    assert not policy.is_locked(NOW, NOW)
    assert not policy.is_locked(None, NOW)


def test_an_edit_replaces_plain_members_and_merges_json_objects():
    stored = {"representative": {"first_name": "Ana", "phone": "+351"},
              "preferences": {"sectors": ["textiles"], "languages": ["pt"]}}
    data = {"motivation": "New", "roles": ["host"], "organisation": {"city": "Braga"},
            "representative": {"phone": None, "position": "CEO"},
            "preferences": {"languages": ["pt", "en"]}}
    edit = domain.edit_from_patch(data, data, stored)
    assert edit.organisation == {"city": "Braga"}
    assert edit.registration == {
        "motivation": "New", "roles": ["host"],
        "representative": {"first_name": "Ana", "position": "CEO"},  # null removed a member
        "preferences": {"sectors": ["textiles"], "languages": ["pt", "en"]},  # arrays replace
    }
    assert stored["representative"] == {"first_name": "Ana", "phone": "+351"}  # untouched


def test_a_null_json_member_empties_it():
    edit = domain.edit_from_patch({"preferences": None}, {"preferences": None},
                                  {"preferences": {"sectors": ["x"]}})
    assert edit.registration == {"preferences": {}}


def test_a_contact_point_names_its_partnership():
    with pytest.raises(ValidationFailed):
        domain.ensure_staff_account(["partnership_contact"], None)
    domain.ensure_staff_account(["partnership_contact"], "p-1")
    domain.ensure_staff_account(["admin"], None)
