"""Who is who in an exchange, and whether two registrations may form one.

VO visiting organisation (travels), HO host organisation, VOP / HOP their partnerships.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.auth import Caller
from common.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from services.agreements import lifecycle as lc

ACCEPTED = "accepted"
# An organisation visits at most once: every exchange that was not cancelled counts.
VISIT_COUNTING_STATES = tuple(s for s in lc.STATES if s != lc.CANCELLED)
# A host's capacity is about exchanges it is preparing or hosting now.
HOSTING_STATES = (lc.PROPOSED, lc.DRAFT, lc.REJECTED, lc.SUBMITTED, lc.VALIDATED, lc.SIGNED,
                  lc.READY, lc.IN_PROGRESS)
# The lump sum of an exchange in these states is committed (its financial agreement is
# signed) but not yet paid; in the paid ones it went out (statistics).
COMMITTED_STATES = (lc.READY, lc.IN_PROGRESS, lc.COMPLETED, lc.REPORTED, lc.APPROVED)
PAID_STATES = (lc.PAID, lc.CLOSED)


@dataclass(frozen=True)
class Side:
    """One registration as agreements needs it (asked from registration over RPC)."""

    registration_id: str
    account_id: str
    organisation_id: str
    organisation_name: str
    country: str
    partnership_id: str
    roles: frozenset[str]
    status: str
    host_capacity: int = 1

    @classmethod
    def from_profile(cls, profile: dict[str, Any]) -> Side:
        org = profile.get("organisation") or {}
        prefs = profile.get("preferences") or {}
        return cls(
            registration_id=profile["registration_id"], account_id=profile["account_id"],
            organisation_id=org.get("id") or "", organisation_name=org.get("name") or "",
            country=org.get("country") or "", partnership_id=profile["partnership_id"],
            roles=frozenset(profile.get("roles") or ()), status=profile.get("status") or "",
            host_capacity=int(prefs.get("host_capacity") or 1))


def check_pair(visitor: Side, host: Side) -> None:
    """Conflict or 422 naming the rule two registrations break to form an exchange."""
    if visitor.account_id == host.account_id or visitor.organisation_id == host.organisation_id:
        raise Conflict("An organisation cannot exchange with itself.")
    for side, what in ((visitor, "visitor"), (host, "host")):
        if side.status != ACCEPTED:
            raise Conflict(f"The {what}'s registration is {side.status}; both must be accepted.")
    if "visitor" not in visitor.roles:
        raise ValidationFailed("The visiting organisation did not register to visit.",
                               {"visitor_registration_id": ["This registration has no visitor role."]})
    if "host" not in host.roles:
        raise ValidationFailed("The host organisation did not register to host.",
                               {"host_registration_id": ["This registration has no host role."]})
    if visitor.country == host.country:
        raise ValidationFailed(
            f"Both organisations are in {visitor.country}; an exchange is with another country.",
            {"host_registration_id": ["The host must be in another country than the visitor."]})


def check_visits_and_capacity(visits_by_visitor: int, hosted_now: int, host: Side) -> None:
    if visits_by_visitor > 0:
        raise Conflict("This organisation already has an exchange as a visitor; an organisation "
                       "visits at most once.")
    if hosted_now >= host.host_capacity:
        raise Conflict(f"The host organisation already hosts {hosted_now} exchange"
                       f"{'s' if hosted_now != 1 else ''}, the capacity it declared.")


@dataclass(frozen=True)
class ExchangeParties:
    visitor_account_id: str
    host_account_id: str
    visitor_partnership_id: str
    host_partnership_id: str

    def of(self, caller: Caller) -> frozenset[str]:
        """The caller's parts in this exchange (empty: a stranger)."""
        parts = set()
        if caller.is_admin:
            parts.add("admin")
        if caller.has("participant"):
            if caller.account_id == self.visitor_account_id:
                parts.add("vo")
            if caller.account_id == self.host_account_id:
                parts.add("ho")
        # Fail closed: a contact-point token without a partnership is nobody's contact point.
        if caller.has("partnership_contact") and caller.partnership_id:
            if caller.partnership_id == self.visitor_partnership_id:
                parts.add("vop")
            if caller.partnership_id == self.host_partnership_id:
                parts.add("hop")
        # A partnership's back-office (API key) reads its partnership's exchanges; no action
        # lists this part among its actors, so it changes nothing.
        if caller.has("backoffice") and caller.partnership_id in (
                self.visitor_partnership_id, self.host_partnership_id):
            parts.add("backoffice")
        return frozenset(parts)


def ensure_visible(parts: frozenset[str]) -> None:
    # Only the four parties and administrators know an exchange exists.
    if not parts:
        raise NotFound("No such exchange.")


def ensure_may(action: str, parts: frozenset[str]) -> None:
    lc.ensure_actor(action, parts)


def signing_party(requested: str | None, parts: frozenset[str]) -> str:
    """Which of the four signatures the caller gives: their own, never another party's."""
    own = sorted(parts.intersection({"vo", "ho", "vop", "hop"}))
    if requested is None:
        if len(own) != 1:
            raise ValidationFailed("Say as which party you sign.",
                                   {"party": [f"One of: {', '.join(own) or 'none'}."]})
        return own[0]
    if requested not in own:
        raise NotAllowed(f"You cannot sign for the {requested.upper()}; each party signs only "
                         "for itself.")
    return requested


def format_reference(year: int, number: int) -> str:
    return f"CXC-{year}-{number:06d}"


# Payments' events about one payout, in the order they happen: approved once, then for each
# payment run (attempt) paid, and possibly failed (refused, or returned after being paid).
_PAYOUT_STEPS = {"payout_approved": 0, "payout_paid": 1, "payout_failed": 2}


def payout_position(event: dict[str, Any]) -> int:
    """Where a payout event stands in its payout's history. Events reach their handlers by
    separate queues, so a later one may be handled first; an exchange applies only events
    past the last it applied (`Exchange.payout_position`)."""
    return int(event.get("attempt") or 0) * len(_PAYOUT_STEPS) + _PAYOUT_STEPS[event["event_type"]] + 1
