"""Registration rules as plain Python: states, who may see or act, eligibility."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from common import reference
from common.auth import Caller
from common.errors import InvalidState, NotAllowed, NotFound, ValidationFailed
from common.rules import RuleResult, failures_by_field, lookup  # noqa: F401 - the domain's API

DRAFT = "draft"
SUBMITTED = "submitted"
ACCEPTED = "accepted"
REJECTED = "rejected"
CHANGES_REQUESTED = "changes_requested"
WITHDRAWN = "withdrawn"
STATES = (DRAFT, SUBMITTED, ACCEPTED, REJECTED, CHANGES_REQUESTED, WITHDRAWN)

DECISIONS = {"accept": ACCEPTED, "reject": REJECTED, "request_changes": CHANGES_REQUESTED}
DECISION_EVENTS = {
    ACCEPTED: "registration_accepted",
    REJECTED: "registration_rejected",
    CHANGES_REQUESTED: "registration_changes_requested",
}

# A participant has at most one registration in these states (a unique index holds it).
ACTIVE_STATES = (DRAFT, SUBMITTED, CHANGES_REQUESTED, ACCEPTED)
EDITABLE_STATES = (DRAFT, CHANGES_REQUESTED, ACCEPTED)
SUBMITTABLE_STATES = (DRAFT, CHANGES_REQUESTED)
WITHDRAWABLE_STATES = (DRAFT, SUBMITTED, CHANGES_REQUESTED, ACCEPTED)
# Once accepted, what made the registration eligible is frozen: a change there needs a new
# assessment, which the participant asks for by withdrawing and registering again.
FROZEN_WHEN_ACCEPTED = ("organisation", "representative", "roles", "partnership_id")

ADULT_AGE = 18
RESIDENCE_DAYS = 183


# --- who may see and act -------------------------------------------------------------

def can_view(caller: Caller, account_id: str, partnership_id: str) -> bool:
    if caller.is_admin:
        return True
    if is_contact_of(caller, partnership_id) or is_backoffice_of(caller, partnership_id):
        return True
    return caller.account_id == account_id


def is_backoffice_of(caller: Caller, partnership_id: str | None) -> bool:
    """A partnership's API key reads that partnership's registrations, and changes nothing
    (every write checks the owner, the assessor or a role it does not have)."""
    return (caller.has("backoffice") and caller.partnership_id is not None
            and caller.partnership_id == partnership_id)


def is_contact_of(caller: Caller, partnership_id: str | None) -> bool:
    """Fails closed: a contact point whose token names no partnership is contact of none."""
    return (caller.has("partnership_contact") and caller.partnership_id is not None
            and caller.partnership_id == partnership_id)


def visible_scope(caller: Caller) -> tuple[str | None, str | None] | None:
    """Which registrations a list shows the caller: (account_id, partnership_id) filters,
    (None, None) for everything, None for nothing at all."""
    if caller.is_admin:
        return None, None
    if caller.has("partnership_contact", "backoffice"):
        return (None, caller.partnership_id) if caller.partnership_id else None
    if caller.has("participant"):
        return caller.account_id, None
    raise NotAllowed("Your role may not list registrations.")


def ensure_visible(caller: Caller, account_id: str, partnership_id: str) -> None:
    # Someone else's registration is reported as missing, so ids cannot be probed.
    if not can_view(caller, account_id, partnership_id):
        raise NotFound("No such registration.")


def ensure_owner(caller: Caller, account_id: str) -> None:
    if caller.account_id != account_id:
        raise NotAllowed("Only the participant who registered may do this.")


def ensure_email_verified(verified_at: Any) -> None:
    """An account that has not verified its address may sign in, read and edit a draft, but
    submits nothing: the partnership would assess a registration nobody can be reached at."""
    if verified_at is None:
        raise NotAllowed("Verify your email address first: follow the link we emailed you "
                         "(POST /api/v1/account/verify/resend sends a new one).")


def ensure_assessor(caller: Caller, partnership_id: str) -> None:
    if caller.is_admin:
        return
    if not is_contact_of(caller, partnership_id):
        raise NotAllowed("Only a contact point of the chosen partnership may assess.")


def ensure_staff_account(roles: list[str], partnership_id: str | None,
                         field: str = "partnership_code") -> None:
    """A contact point speaks for one partnership: it must name it (in the form's `field`)."""
    if "partnership_contact" in roles and partnership_id is None:
        raise ValidationFailed("A contact point needs a partnership.",
                               {field: ["Name the contact point's partnership."]})


def ensure_may_change_cv(caller: Caller, account_id: str, partnership_id: str, status: str) -> None:
    ensure_visible(caller, account_id, partnership_id)
    ensure_owner(caller, account_id)
    ensure_editable(status, set())


# --- state machine --------------------------------------------------------------------

def ensure_editable(status: str, changed_fields: set[str]) -> None:
    if status not in EDITABLE_STATES:
        raise InvalidState(f"A {status} registration cannot be edited.")
    if status == ACCEPTED:
        frozen = sorted(changed_fields.intersection(FROZEN_WHEN_ACCEPTED))
        if frozen:
            raise InvalidState(
                "An accepted registration keeps its " + ", ".join(frozen) + "; withdraw and "
                "register again to change them."
            )


# --- edits (JSON merge patch, RFC 7396) -----------------------------------------------

# Replaced whole by the patch; the organisation's fields are set one by one.
REPLACED_MEMBERS = ("partnership_id", "roles", "motivation", "expertise")
# JSON objects merged member by member (a null member removes it).
MERGED_MEMBERS = ("representative", "preferences")


@dataclass(frozen=True)
class Edit:
    """What a merge patch changes: registration columns and organisation columns."""

    registration: dict[str, Any]
    organisation: dict[str, Any]


def edit_from_patch(data: dict[str, Any], patch: dict[str, Any],
                    stored: dict[str, Any]) -> Edit:
    """`data` is the loaded patch (Python values), `patch` the same as JSON values, `stored`
    the merged members as they are now (JSON columns)."""
    registration = {member: data[member] for member in REPLACED_MEMBERS if member in data}
    for member in MERGED_MEMBERS:
        if member in patch:
            merged = merge_patch({member: stored.get(member) or {}}, {member: patch[member]})
            registration[member] = merged.get(member) or {}
    return Edit(registration, dict(data.get("organisation", {})))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge member by member, `null` removes a member, anything else
    (arrays included) replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _compact(value: Any) -> Any:
    """A JSON value as compared for changes: absent and null alike, lists of codes as sets."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return sorted(value)
    return value


def changed_members(current: dict[str, Any], patch: dict[str, Any]) -> set[str]:
    """The top-level members a merge patch really changes (sending one unchanged is not a
    change); both sides as JSON values."""
    merged = merge_patch(current, patch)
    return {key for key in patch if _compact(merged.get(key)) != _compact(current.get(key))}


# --- sign-in lockout --------------------------------------------------------------------

@dataclass(frozen=True)
class LockoutPolicy:
    """LOGIN_MAX_FAILURES wrong passwords in a row lock the account for LOCKOUT_SECONDS. A
    locked account answers exactly like a wrong password, so the lockout does not reveal
    that an email is registered; a right password ends the count."""

    max_failures: int
    lockout_seconds: int

    @classmethod
    def from_config(cls, security: dict[str, Any]) -> LockoutPolicy:
        return cls(int(security["login_max_failures"]), int(security["lockout_seconds"]))

    @staticmethod
    def is_locked(locked_until: datetime | None, now: datetime) -> bool:
        return locked_until is not None and locked_until > now

    def after_failure(self, failures: int, now: datetime) -> tuple[int, datetime | None]:
        """(the failure count to keep, locked until) after `failures` wrong passwords in a
        row: the count starts over when the account gets locked."""
        if failures >= self.max_failures:
            return 0, now + timedelta(seconds=self.lockout_seconds)
        return failures, None


def next_state_on_submit(status: str) -> str:
    if status not in SUBMITTABLE_STATES:
        raise InvalidState(f"A {status} registration cannot be submitted.")
    return SUBMITTED


def next_state_on_assessment(status: str, decision: str) -> str:
    if status != SUBMITTED:
        raise InvalidState(f"Only a submitted registration can be assessed; this one is {status}.")
    return DECISIONS[decision]


def next_state_on_withdraw(status: str) -> str:
    if status not in WITHDRAWABLE_STATES:
        raise InvalidState(f"A {status} registration cannot be withdrawn.")
    return WITHDRAWN


# --- eligibility ----------------------------------------------------------------------

@dataclass(frozen=True)
class CountryPeriod:
    code: str
    valid_from: date
    valid_to: date | None

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def participating(periods: list[CountryPeriod], code: str | None, day: date) -> bool:
    return bool(code) and any(p.code == code and p.covers(day) for p in periods)


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))



REQUIRED_FOR_SUBMIT = {
    "organisation.name": "the organisation's name",
    "organisation.type": "the organisation's type",
    "organisation.country": "the country the organisation is established in",
    "organisation.city": "the organisation's city",
    "representative.first_name": "the representative's first name",
    "representative.last_name": "the representative's last name",
    "representative.email": "the representative's email",
    "representative.date_of_birth": "the representative's date of birth",
    "representative.nationality": "the representative's nationality",
    "motivation": "a motivation",
    "preferences.sectors": "at least one sector (industrial ecosystem)",
    "preferences.objectives": "at least one objective",
    "preferences.activity_types": "at least one activity type",
    "preferences.languages": "at least one working language",
    "preferences.availability": "at least one availability window",
    "preferences.modes": "physical, virtual or both",
    "cv": "a CV (PDF or DOCX)",
}



def check_eligibility(reg: dict[str, Any], periods: list[CountryPeriod], today: date) -> list[RuleResult]:
    """Every rule, passed or not, with a message that explains the outcome."""
    results: list[RuleResult] = []

    def rule(name: str, field: str, passed: bool, ok: str, failed: str) -> None:
        results.append(RuleResult(name, field, passed, ok if passed else failed))

    for path, what in REQUIRED_FOR_SUBMIT.items():
        value = lookup(reg, path)
        rule("complete", path, value not in (None, "", [], {}), f"Has {what}.",
             f"Please provide {what}.")

    org = reg.get("organisation") or {}
    rep = reg.get("representative") or {}
    roles = set(reg.get("roles") or [])
    types = reference.organisation_types()
    org_type = org.get("type")
    spec = types.get(org_type or "")

    if spec is not None and "visitor" in roles:
        rule("may_visit", "roles", spec["may_visit"],
             f"A {spec['label'].lower()} may visit.",
             f"A {spec['label'].lower()} may only host, not visit.")
    if spec is not None and spec["needs_cluster_membership"]:
        member = bool(org.get("cluster_member")) and bool(org.get("cluster_name"))
        rule("cluster_member", "organisation.cluster_member", member,
             f"Member of the cluster {org.get('cluster_name')}.",
             f"A {spec['label'].lower()} must be a member of a cluster: "
             "say so and name the cluster.")

    if org.get("country"):
        country = reference.label("countries", org["country"])
        rule("country_participates", "organisation.country",
             participating(periods, org["country"], today),
             f"{country} participates in the programme.",
             f"Organisations established in {country} cannot take part: "
             "the country does not participate in the programme.")

    born = rep.get("date_of_birth")
    if isinstance(born, str):
        born = date.fromisoformat(born)
    if born:
        rule("adult", "representative.date_of_birth", age_on(born, today) >= ADULT_AGE,
             "The representative is at least 18.",
             "The representative must be at least 18 years old.")

    if rep.get("nationality"):
        national = participating(periods, rep.get("nationality"), today)
        resident = (
            participating(periods, rep.get("residence_country"), today)
            and int(rep.get("residence_days") or 0) >= RESIDENCE_DAYS
            and bool(rep.get("residence_permit"))
        )
        rule("representative_link", "representative.nationality", national or resident,
             "The representative is a national or resident of a participating country.",
             "The representative must be a national of a participating country, or have "
             f"lived at least {RESIDENCE_DAYS} days in one with a residence permit.")

    prefs = reg.get("preferences") or {}
    if "host" in roles and prefs.get("host_capacity") is not None:
        rule("host_capacity", "preferences.host_capacity", int(prefs["host_capacity"]) >= 1,
             "Can host at least one exchange.", "A host must be able to host at least one exchange.")
    return results



CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "position")


def event_profile(reg: dict[str, Any]) -> dict[str, Any]:
    """The profile registration events carry: the public profile only. Events go to
    exchanges that partnership back-offices bind to, so they never carry personal data (the
    representative's names, email, phone, date of birth, nationality, CV); whoever needs
    contact details asks `get_contact_details`, which checks why (docs/events.md)."""
    return public_profile(reg)


def emits_update(status: str) -> bool:
    """Only a listed (accepted) registration's edits are events: draft and resubmission
    edits are nobody else's business until the registration is submitted (which is its own
    event, with the profile as submitted)."""
    return status == ACCEPTED


def may_read_contact(caller: Caller, account_id: str, partnership_id: str,
                     disclosed: bool) -> bool:
    """The owner, an administrator, a contact point of the registration's partnership, or
    a participant whose own registration has an accepted contact with it."""
    return can_view(caller, account_id, partnership_id) or (caller.has("participant") and disclosed)


def contact_details(reg: dict[str, Any]) -> dict[str, Any]:
    rep = reg.get("representative") or {}
    return {**{k: rep.get(k) for k in CONTACT_FIELDS},
            "organisation_name": (reg.get("organisation") or {}).get("name")}


def public_profile(reg: dict[str, Any]) -> dict[str, Any]:
    """What any participant may see: no names, date of birth, nationality, CV or contact
    details; the representative's position (a job title) is public."""
    org = reg["organisation"]
    rep = reg.get("representative") or {}
    return {
        "registration_id": reg["id"],
        "reference": reg["reference"],
        "account_id": reg["account_id"],
        "partnership_id": reg["partnership_id"],
        "status": reg["status"],
        "registration_version": reg["version"],
        "roles": reg["roles"],
        "organisation": {k: org.get(k) for k in (
            "id", "name", "type", "country", "city", "website", "cluster_name",
            "latitude", "longitude", "description", "employees")},
        "representative": {"position": rep.get("position")},
        "motivation": reg.get("motivation"),
        "expertise": reg.get("expertise"),
        "preferences": reg.get("preferences") or {},
    }


def may_browse_accepted(caller: Caller, own_accepted: bool) -> bool:
    """Accepted registrations are public to accepted participants and to the staff who help
    them (the catalogue's rule)."""
    if caller.has("admin", "support_agent"):
        return True
    if caller.has("partnership_contact") and caller.partnership_id:
        return True
    return caller.has("participant") and own_accepted


def may_see_profile(caller: Caller, account_id: str, partnership_id: str, status: str,
                    browsing: bool) -> bool:
    if can_view(caller, account_id, partnership_id):
        return True
    return status == ACCEPTED and browsing
