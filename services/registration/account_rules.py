"""Administrators' rules about accounts, as plain Python: who may be invited with which
roles, what a change of roles may not do, an account's status, and what an audit entry says."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from common.errors import InvalidState, NotAllowed, StaleVersion

ADMIN = "admin"
# The roles a person's account may hold; `backoffice` and `service` belong to keys and
# services, never to a person an administrator manages here.
PERSON_ROLES = ("participant", "partnership_contact", "support_agent", ADMIN)
# Staff are invited; participants sign up themselves.
INVITABLE_ROLES = ("partnership_contact", "support_agent", ADMIN)

ACTIVE = "active"
SUSPENDED = "suspended"
UNVERIFIED = "unverified"
STATUSES = (ACTIVE, SUSPENDED, UNVERIFIED)

INVITED = "invited"
CREATED = "created"
CHANGED = "changed"
SUSPENDED_ACTION = "suspended"
REACTIVATED = "reactivated"
ACTIONS = (INVITED, CREATED, CHANGED, SUSPENDED_ACTION, REACTIVATED)


def status_of(suspended_at: datetime | None, email_verified_at: datetime | None) -> str:
    """Suspended wins; an invitee who has not chosen a password yet is unverified."""
    if suspended_at is not None:
        return SUSPENDED
    return ACTIVE if email_verified_at is not None else UNVERIFIED


def ensure_admin(roles: frozenset[str] | set[str]) -> None:
    if ADMIN not in roles:
        raise NotAllowed("Only an administrator manages accounts.")


def ensure_version(current: int, expected: int | None) -> None:
    if expected is not None and current != expected:
        raise StaleVersion(f"You edited version {expected}; the account is now at version "
                           f"{current}. Reload it and apply your change again.")


def ensure_not_self_demotion(actor_id: str, account_id: str, new_roles: list[str]) -> None:
    """An administrator never removes their own admin role: the programme would risk having
    nobody left to manage accounts (another administrator may do it)."""
    if actor_id == account_id and ADMIN not in new_roles:
        raise NotAllowed("You cannot remove your own administrator role; ask another "
                         "administrator.")


def ensure_may_suspend(actor_id: str, account_id: str, suspended_at: datetime | None) -> None:
    if actor_id == account_id:
        raise NotAllowed("You cannot suspend your own account; ask another administrator.")
    if suspended_at is not None:
        raise InvalidState("This account is suspended already.")


def ensure_may_reactivate(suspended_at: datetime | None) -> None:
    if suspended_at is None:
        raise InvalidState("This account is not suspended.")


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{field: {"from": old, "to": new}} for the fields whose value differs."""
    return {field: {"from": before.get(field), "to": value} for field, value in after.items()
            if before.get(field) != value}


def normalised_roles(roles: list[str]) -> list[str]:
    return sorted(set(roles))
