"""Reading and writing registration's tables; turns rows into plain dicts."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from common import reference
from common.errors import Conflict, NotFound
from services.registration.domain import CountryPeriod
from services.registration.models import (
    Account,
    Country,
    Organisation,
    Partnership,
    Registration,
)
from services.registration.passwords import hash_password

ORGANISATION_FIELDS = (
    "name", "type", "country", "city", "postcode", "address", "website", "registration_number",
    "employees", "cluster_member", "cluster_name", "latitude", "longitude", "description",
)
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_reference() -> str:
    return "CX-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def organisation_dict(org: Organisation) -> dict[str, Any]:
    data = {field: getattr(org, field) for field in ORGANISATION_FIELDS}
    data["id"] = org.id
    return data


def registration_dict(reg: Registration, org: Organisation) -> dict[str, Any]:
    cv = None
    if reg.cv_key:
        cv = {"filename": reg.cv_filename, "content_type": reg.cv_content_type,
              "size": reg.cv_size, "sha256": reg.cv_sha256, "uploaded_at": reg.cv_uploaded_at}
    assessment = None
    if reg.assessed_at:
        assessment = {"decision": reg.assessment_decision, "comment": reg.assessment_comment,
                      "assessed_by": reg.assessed_by, "assessed_at": reg.assessed_at}
    return {
        "id": reg.id, "reference": reg.reference, "version": reg.version, "status": reg.status,
        "account_id": reg.account_id, "partnership_id": reg.partnership_id, "roles": reg.roles,
        "organisation": organisation_dict(org), "representative": reg.representative or {},
        "motivation": reg.motivation, "expertise": reg.expertise,
        "preferences": reg.preferences or {}, "cv": cv, "assessment": assessment,
        "submitted_at": reg.submitted_at, "withdrawn_at": reg.withdrawn_at,
        "created_at": reg.created_at, "updated_at": reg.updated_at,
    }


def load_registration(session: Session, registration_id: str,
                      for_update: bool = False) -> tuple[Registration, Organisation]:
    query = (select(Registration, Organisation)
             .join(Organisation, Organisation.id == Registration.organisation_id)
             .where(Registration.id == registration_id))
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Registration)
    row = session.execute(query).first()
    if row is None:
        raise NotFound("No such registration.")
    return row[0], row[1]


def list_registrations(session: Session, filters: dict[str, Any], account_id: str | None,
                       partnership_id: str | None) -> tuple[list[tuple], int]:
    query = select(Registration, Organisation).join(
        Organisation, Organisation.id == Registration.organisation_id)
    if account_id is not None:
        query = query.where(Registration.account_id == account_id)
    if partnership_id is not None:
        query = query.where(Registration.partnership_id == partnership_id)
    if filters.get("status"):
        query = query.where(Registration.status == filters["status"])
    if filters.get("partnership_id"):
        query = query.where(Registration.partnership_id == filters["partnership_id"])
    if filters.get("country"):
        query = query.where(Organisation.country == filters["country"])
    if filters.get("role"):
        query = query.where(cast(Registration.roles, String).contains(f'"{filters["role"]}"'))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = (query.order_by(Registration.created_at.desc(), Registration.id)
            .offset((filters["page"] - 1) * filters["per_page"]).limit(filters["per_page"]))
    return [tuple(row) for row in session.execute(page).all()], total


def count_registrations(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Registration)) or 0


def country_periods(session: Session) -> list[CountryPeriod]:
    return [CountryPeriod(c.code, c.valid_from, c.valid_to) for c in session.scalars(select(Country))]


def get_partnership(session: Session, partnership_id: str) -> Partnership:
    partnership = session.get(Partnership, partnership_id)
    if partnership is None or not partnership.active:
        raise NotFound("No such partnership.")
    return partnership


def partnership_dict(p: Partnership) -> dict[str, Any]:
    return {"id": p.id, "code": p.code, "name": p.name, "sectors": p.sectors,
            "countries": p.countries}


def account_by_email(session: Session, email: str) -> Account | None:
    return session.scalar(select(Account).where(Account.email == email.strip().lower()))


def organisation_of(session: Session, account_id: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.account_id == account_id))


def create_account(session: Session, email: str, password: str, full_name: str,
                   roles: list[str], partnership_id: str | None = None) -> Account:
    email = email.strip().lower()
    if account_by_email(session, email) is not None:
        raise Conflict("An account with this email already exists.", {"email": ["Already registered."]})
    account = Account(email=email, full_name=full_name, password_hash=hash_password(password),
                      roles=sorted(set(roles)), partnership_id=partnership_id, failed_logins=0)
    session.add(account)
    session.flush()
    return account


def seed_reference(session: Session) -> dict[str, int]:
    """Countries and partnerships from common/refdata; safe to run again."""
    counts = {"countries": 0, "partnerships": 0}
    for entry in reference.countries():
        valid_from = date.fromisoformat(entry["valid_from"])
        row = session.get(Country, (entry["code"], valid_from))
        if row is None:
            row = Country(code=entry["code"], valid_from=valid_from)
            session.add(row)
            counts["countries"] += 1
        row.valid_to = date.fromisoformat(entry["valid_to"]) if entry["valid_to"] else None
        row.name, row.group = entry["name"], entry["group"]
    for entry in reference.partnerships():
        row = session.scalar(select(Partnership).where(Partnership.code == entry["code"]))
        if row is None:
            row = Partnership(code=entry["code"])
            session.add(row)
            counts["partnerships"] += 1
        row.name, row.sectors, row.countries = entry["name"], entry["sectors"], entry["countries"]
        row.active = True
    session.flush()
    return counts


def reference_data(session: Session) -> dict[str, Any]:
    tax = reference.taxonomy()
    countries = [{"code": c.code, "name": c.name, "group": c.group, "valid_from": c.valid_from,
                  "valid_to": c.valid_to}
                 for c in session.scalars(select(Country).order_by(Country.name))]
    return {"countries": countries, "sectors": tax["sectors"], "objectives": tax["objectives"],
            "activity_types": tax["activity_types"],
            "organisation_types": tax["organisation_types"],
            "languages": sorted(set(tax["languages"]))}
