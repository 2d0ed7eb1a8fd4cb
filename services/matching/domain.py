"""Matching rules as plain Python: who is listed, who may be matched with whom, who may
search, contact requests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from common.auth import Caller
from common.errors import Conflict, InvalidState, NotAllowed, NotFound

OPEN, ACCEPTED, DECLINED, EXPIRED = "open", "accepted", "declined", "expired"
CONTACT_STATES = (OPEN, ACCEPTED, DECLINED, EXPIRED)
LISTED_STATUS = "accepted"


# --- the catalogue ---------------------------------------------------------------------

def is_listed(payload: dict[str, Any]) -> bool:
    """Only accepted registrations are in the catalogue."""
    return payload.get("status") == LISTED_STATUS


def public_view(profile: dict[str, Any]) -> dict[str, Any]:
    """A catalogue entry as any accepted participant may see it."""
    org = profile.get("organisation") or {}
    prefs = profile.get("preferences") or {}
    return {
        "registration_id": profile["registration_id"],
        "reference": profile.get("reference"),
        "roles": profile.get("roles") or [],
        "partnership_id": profile.get("partnership_id"),
        "organisation": {k: org.get(k) for k in (
            "name", "type", "country", "city", "website", "cluster_name", "description",
            "employees")},
        "position": (profile.get("representative") or {}).get("position"),
        "motivation": profile.get("motivation"),
        "expertise": profile.get("expertise"),
        "preferences": {k: prefs.get(k) or [] for k in (
            "sectors", "objectives", "activity_types", "languages", "modes", "target_countries",
            "availability")},
    }


def is_alumnus(profile: dict[str, Any], sector: str | None, country: str | None) -> bool:
    """In the alumni directory: opted in, and of the sector and country asked for, if any."""
    prefs = profile.get("preferences") or {}
    if not prefs.get("alumni_opt_in"):
        return False
    if sector and sector not in (prefs.get("sectors") or []):
        return False
    return not country or (profile.get("organisation") or {}).get("country") == country


def profile_text(profile: dict[str, Any]) -> str:
    org = profile.get("organisation") or {}
    parts = (org.get("name"), org.get("description"), org.get("cluster_name"),
             profile.get("motivation"), profile.get("expertise"))
    return "\n".join(p for p in parts if p)


def availability(profile: dict[str, Any]) -> tuple[tuple[date, date], ...]:
    windows = []
    for window in (profile.get("preferences") or {}).get("availability") or []:
        try:
            windows.append((date.fromisoformat(window["start"]), date.fromisoformat(window["end"])))
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(windows)


# --- who may be matched with whom ------------------------------------------------------
# The hard rules, before any scoring. Each works on one registration (plain values) or on
# numpy columns of every registration at once, which is how the engine applies them.

def may_host(has_host_role: Any, open_capacity: Any) -> Any:
    """A host is proposed while it has capacity left (what it declared minus what it hosts)."""
    return np.logical_and(has_host_role, np.greater(open_capacity, 0))


def may_visit(has_visitor_role: Any, has_visited: Any) -> Any:
    """A visitor is proposed until it has an exchange (one visit per registration)."""
    return np.logical_and(has_visitor_role, np.logical_not(has_visited))


def counterparts(my_country: Any, i_may_host: bool, i_may_visit: bool, countries: Any,
                 they_may_host: Any, they_may_visit: Any, listed: Any) -> tuple[Any, Any]:
    """Those who could host me and those who could visit me: listed, from another country,
    on the other side of the exchange."""
    elsewhere = np.logical_and(listed, np.not_equal(countries, my_country))
    nobody = np.zeros_like(elsewhere)
    hosts = np.logical_and(elsewhere, they_may_host) if i_may_visit else nobody
    visitors = np.logical_and(elsewhere, they_may_visit) if i_may_host else nobody.copy()
    return hosts, visitors


def ensure_may_browse(caller: Caller, own_listed: bool) -> None:
    """Only accepted participants see the catalogue (and the staff who help them)."""
    if caller.has("admin", "support_agent"):
        return
    if caller.has("partnership_contact") and caller.partnership_id:
        return
    if caller.has("participant") and own_listed:
        return
    raise NotAllowed("The catalogue opens once your registration is accepted.")


def ensure_may_match(caller: Caller, owner_account_id: str, partnership_id: str) -> None:
    if caller.is_admin or caller.account_id == owner_account_id:
        return
    # Fails closed: a contact point whose token names no partnership sees no one's matches.
    if (caller.has("partnership_contact") and caller.partnership_id is not None
            and caller.partnership_id == partnership_id):
        return
    raise NotFound("No such registration in the catalogue.")


# --- contact requests ------------------------------------------------------------------

def check_new_contact(requester_registration: str, requester_account: str,
                      recipient_registration: str, recipient_account: str,
                      open_from_requester: int, max_open: int, existing_between: bool) -> None:
    if requester_registration == recipient_registration or requester_account == recipient_account:
        raise Conflict("You cannot contact yourself.")
    if existing_between:
        raise Conflict("You are already in contact with this participant, or a request is open.")
    if open_from_requester >= max_open:
        raise Conflict(f"You have {open_from_requester} open contact requests; at most {max_open} "
                       "may wait for an answer at a time.")


def expiry(now: datetime, days: float) -> datetime:
    return now + timedelta(days=days)


def is_party(caller: Caller, requester_account: str, recipient_account: str) -> bool:
    return caller.account_id in (requester_account, recipient_account)


def ensure_party(caller: Caller, requester_account: str, recipient_account: str) -> None:
    # Strangers (admins included: conversations are private) learn nothing, not even that it exists.
    if not is_party(caller, requester_account, recipient_account):
        raise NotFound("No such contact.")


def next_state_on_answer(status: str, caller_account: str, recipient_account: str,
                         accept: bool, expires_at: datetime, now: datetime) -> str:
    if caller_account != recipient_account:
        raise NotAllowed("Only the participant who received the request may answer it.")
    if status != OPEN:
        raise InvalidState(f"This request is {status}; it cannot be answered any more.")
    if expires_at <= now:
        raise InvalidState("This request has expired.")
    return ACCEPTED if accept else DECLINED


def ensure_conversation_open(status: str) -> None:
    if status != ACCEPTED:
        raise InvalidState("Messages can be exchanged once the contact request is accepted.")
