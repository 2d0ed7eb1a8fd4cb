"""Reading and writing registration's tables; turns rows into plain dicts."""

from __future__ import annotations

import secrets
import time
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import String, bindparam, cast, func, or_, select, true, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common import reference
from common.db import dialect_insert, dialect_name, is_postgres, new_id, utcnow
from common.errors import Conflict, NotFound
from common.prepared import execute_prepared
from services.registration.domain import ACCEPTED, ACTIVE_STATES, DRAFT, CountryPeriod
from services.registration.models import (
    Account,
    AccountAudit,
    AccountRequest,
    ApiKey,
    Country,
    Disclosure,
    Organisation,
    Partnership,
    Registration,
    Revocation,
)
from services.registration.passwords import hash_password

ORGANISATION_FIELDS = (
    "name", "type", "country", "city", "postcode", "address", "website", "registration_number",
    "employees", "cluster_member", "cluster_name", "latitude", "longitude", "description",
)
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_reference() -> str:
    return "CX-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def organisation_dict(org: Any) -> dict[str, Any]:
    data = {field: getattr(org, field) for field in ORGANISATION_FIELDS}
    data["id"] = org.id
    return data


def registration_dict(reg: Any, org: Any) -> dict[str, Any]:
    """Works on ORM objects and on Core rows alike (anything with the columns as attributes)."""
    cv = None
    if reg.cv_key:
        cv = {"key": reg.cv_key, "filename": reg.cv_filename, "content_type": reg.cv_content_type,
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
    """ORM objects, for changing them."""
    query = (select(Registration, Organisation)
             .join(Organisation, Organisation.id == Registration.organisation_id)
             .where(Registration.id == registration_id))
    if for_update and is_postgres(session):
        query = query.with_for_update(of=Registration)
    row = session.execute(query).first()
    if row is None:
        raise NotFound("No such registration.")
    return row[0], row[1]


_REG = Registration.__table__
_ORG = Organisation.__table__
_READ = select(
    *_REG.c, *(column.label(f"org_{column.name}") for column in _ORG.c)
).select_from(_REG.join(_ORG, _ORG.c.id == _REG.c.organisation_id))


class _Prefixed:
    """The organisation's columns of a joined row, read as attributes."""

    def __init__(self, row: Any, prefix: str) -> None:
        self._row, self._prefix = row, prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, self._prefix + name)


def _row_dict(row: Any) -> dict[str, Any]:
    return registration_dict(row, _Prefixed(row, "org_"))


# Built once: a statement made per call costs its construction and its cache key each time.
_READ_ONE = _READ.where(_REG.c.id == bindparam("registration_id"))


def read_registration(conn: Connection, registration_id: str) -> dict[str, Any]:
    """A registration as a plain dict, read with one Core query (the hot read path)."""
    params = {"registration_id": registration_id}
    if is_postgres(conn):
        row = execute_prepared(conn, "cxc_read_registration", _READ_ONE, params).first()
    else:
        row = conn.execute(_READ_ONE, params).first()
    if row is None:
        raise NotFound("No such registration.")
    return _row_dict(row)


def read_registrations(conn: Connection, registration_ids: list[str]) -> list[dict[str, Any]]:
    if not registration_ids:
        return []
    return [_row_dict(row) for row in conn.execute(_READ.where(_REG.c.id.in_(registration_ids)))]


def has_accepted(conn: Connection, account_id: str) -> bool:
    return conn.scalar(select(_REG.c.id).where(_REG.c.account_id == account_id,
                                               _REG.c.status == ACCEPTED).limit(1)) is not None


def list_registrations(conn: Connection, filters: dict[str, Any], account_id: str | None,
                       partnership_id: str | None) -> tuple[list[dict[str, Any]], int]:
    conditions = []
    if account_id is not None:
        conditions.append(_REG.c.account_id == account_id)
    if partnership_id is not None:
        conditions.append(_REG.c.partnership_id == partnership_id)
    if filters.get("status"):
        conditions.append(_REG.c.status == filters["status"])
    if filters.get("partnership_id"):
        conditions.append(_REG.c.partnership_id == filters["partnership_id"])
    if filters.get("country"):
        conditions.append(_ORG.c.country == filters["country"])
    if filters.get("role"):
        conditions.append(cast(_REG.c.roles, String).contains(f'"{filters["role"]}"'))
    query = _READ.where(*conditions)
    total = conn.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = (query.order_by(_REG.c.created_at.desc(), _REG.c.id)
            .offset((filters["page"] - 1) * filters["per_page"]).limit(filters["per_page"]))
    return [_row_dict(row) for row in conn.execute(page)], total


def accepted_after(conn: Connection, after_id: str | None, limit: int) -> list[dict[str, Any]]:
    """Accepted registrations in id order, the page after `after_id` (keyset paging: stable
    while registrations change, and no deep OFFSET)."""
    conditions = [_REG.c.status == "accepted"]
    if after_id:
        conditions.append(_REG.c.id > after_id)
    rows = conn.execute(_READ.where(*conditions).order_by(_REG.c.id).limit(limit))
    return [_row_dict(row) for row in rows]


def record_disclosure(session: Session, registration_a: str, registration_b: str,
                      contact_id: str) -> None:
    """Both directions of an accepted contact; a repeat is a no-op."""
    insert = dialect_insert(session)
    for own, other in ((registration_a, registration_b), (registration_b, registration_a)):
        session.execute(insert(Disclosure).values(
            registration_id=own, counterpart_registration_id=other, contact_id=contact_id,
            disclosed_at=utcnow()).on_conflict_do_nothing())


def disclosed_to(conn: Connection, account_id: str, registration_id: str) -> bool:
    """Whether a registration of `account_id` has an accepted contact with `registration_id`."""
    table, regs = Disclosure.__table__, _REG
    query = (select(table.c.registration_id)
             .join(regs, regs.c.id == table.c.registration_id)
             .where(regs.c.account_id == account_id,
                    table.c.counterpart_registration_id == registration_id)
             .limit(1))
    return conn.execute(query).first() is not None


def country_periods(conn: Connection | Session) -> list[CountryPeriod]:
    table = Country.__table__
    rows = conn.execute(select(table.c.code, table.c.valid_from, table.c.valid_to))
    return [CountryPeriod(code, valid_from, valid_to) for code, valid_from, valid_to in rows]


_PARTNERSHIPS = select(Partnership.__table__).where(Partnership.__table__.c.active.is_(True))


def _contact_points(conn: Connection, partnership_ids: list[str]) -> dict[str, list[dict[str, str]]]:
    accounts = Account.__table__
    rows = conn.execute(select(accounts.c.partnership_id, accounts.c.full_name, accounts.c.email)
                        .where(accounts.c.partnership_id.in_(partnership_ids),
                               cast(accounts.c.roles, String).contains('"partnership_contact"'))
                        .order_by(accounts.c.full_name))
    found: dict[str, list[dict[str, str]]] = {}
    for partnership_id, name, email in rows:
        found.setdefault(partnership_id, []).append({"name": name, "email": email})
    return found


def list_partnerships(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(_PARTNERSHIPS.order_by(Partnership.__table__.c.name)).all()
    contacts = _contact_points(conn, [row.id for row in rows])
    return [partnership_dict(row, contacts.get(row.id, [])) for row in rows]


def get_partnership(conn: Connection, id_or_code: str) -> dict[str, Any]:
    """A partnership by its id or its code (GREENMOB)."""
    table = Partnership.__table__
    row = conn.execute(_PARTNERSHIPS.where(
        (table.c.id == id_or_code) | (table.c.code == id_or_code.upper()))).first()
    if row is None:
        raise NotFound("No such partnership.")
    return partnership_dict(row, _contact_points(conn, [row.id]).get(row.id, []))


def organisation_id_of(conn: Connection, account_id: str) -> str | None:
    return conn.scalar(select(_ORG.c.id).where(_ORG.c.account_id == account_id))


def get_account(conn: Connection, account_id: str) -> Any:
    return conn.execute(select(Account.__table__).where(Account.__table__.c.id == account_id)).first()


_ACTIVE_PARTNERSHIPS: dict[Any, tuple[float, frozenset[str]]] = {}
_PARTNERSHIP_TTL = 60.0


def partnership_id_by_code(session: Session, code: str) -> str | None:
    return session.scalar(select(Partnership.id).where(Partnership.code == code))


def ensure_partnership(session: Session | Connection, partnership_id: str) -> None:
    """NotFound unless the partnership exists and is active; the list is reference data,
    so it is cached for a minute instead of read on every write."""
    # The URL itself: rendering it as text cost ~1 % of a write.
    key = (session.get_bind() if isinstance(session, Session) else session.engine).url
    cached = _ACTIVE_PARTNERSHIPS.get(key)
    if cached is None or time.monotonic() - cached[0] > _PARTNERSHIP_TTL or (
            partnership_id not in cached[1]):
        ids = frozenset(session.scalars(select(Partnership.id).where(Partnership.active.is_(True))))
        _ACTIVE_PARTNERSHIPS[key] = (time.monotonic(), ids)
        cached = _ACTIVE_PARTNERSHIPS[key]
    if partnership_id not in cached[1]:
        raise NotFound("No such partnership.", {"partnership_id": ["Unknown partnership."]})


_ORG_PROFILE = [column.name for column in _ORG.c if column.name not in ("id", "account_id")]
_UPSERTS: dict[str, Any] = {}


def _upsert_statement(session: Session) -> Any:
    # Built once per dialect: `excluded` makes column proxies, costly to redo per request.
    dialect = dialect_name(session)
    if dialect not in _UPSERTS:
        statement = dialect_insert(session)(_ORG)
        statement = statement.on_conflict_do_update(
            index_elements=[_ORG.c.account_id],
            set_={name: statement.excluded[name] for name in _ORG_PROFILE},
        ).returning(*_ORG.c)
        _UPSERTS[dialect] = statement
    return _UPSERTS[dialect]


def _organisation_values(account_id: str, profile: dict[str, Any]) -> dict[str, Any]:
    values = {name: None for name in _ORG_PROFILE}
    values.update(profile, id=new_id(), account_id=account_id, updated_at=utcnow(),
                  cluster_member=bool(profile.get("cluster_member")))
    return values


def upsert_organisation(session: Session, account_id: str, profile: dict[str, Any]) -> Any:
    """The account's organisation, created or replaced by `profile` (the whole profile: a
    field left out is cleared), as a row."""
    return session.execute(_upsert_statement(session),
                           _organisation_values(account_id, profile)).one()


_DRAFT_COLUMNS = ("id", "reference", "version", "created_at", "updated_at", "status",
                  "account_id", "partnership_id", "roles", "motivation", "expertise",
                  "representative", "preferences")
_DRAFT: list[Any] = []


def _draft_statement() -> Any:
    """PostgreSQL: the organisation's upsert and the registration's insert as one statement
    (a data-modifying WITH), answering the organisation's row. Built once."""
    if not _DRAFT:
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        upsert = pg_insert(_ORG).values(
            {column.name: bindparam(f"org_{column.name}", type_=column.type) for column in _ORG.c})
        org = upsert.on_conflict_do_update(
            index_elements=[_ORG.c.account_id],
            set_={name: upsert.excluded[name] for name in _ORG_PROFILE},
        ).returning(*_ORG.c).cte("org")
        rows = select(*(bindparam(f"reg_{name}", type_=_REG.c[name].type) for name in _DRAFT_COLUMNS),
                      org.c.id).select_from(org)
        reg = (_REG.insert().from_select([*_DRAFT_COLUMNS, "organisation_id"], rows)
               .returning(_REG.c.id).cte("reg"))
        _DRAFT.append(select(*org.c).select_from(org.join(reg, true())))
    return _DRAFT[0]


def create_draft(bind: Session | Connection, account_id: str, organisation: dict[str, Any],
                 values: dict[str, Any]) -> tuple[SimpleNamespace, Any]:
    """The account's organisation created or replaced, and a new registration of it: the
    registration (as insert_registration answers it) and the organisation's row.

    On PostgreSQL in one statement, so on an autocommit connection it is one round trip and
    atomic by itself: when the participant already has an active registration, the
    organisation is left as it was too. Raises ActiveRegistrationExists then (after
    rolling a session's transaction back)."""
    if not is_postgres(bind):
        org = upsert_organisation(bind, account_id, organisation)
        return insert_registration(bind, {**values, "account_id": account_id,
                                          "organisation_id": org.id}), org
    now = utcnow()
    row = {"id": new_id(), "reference": new_reference(), "version": 1, "created_at": now,
           "updated_at": now, **values, "account_id": account_id}
    params = {f"org_{name}": value
              for name, value in _organisation_values(account_id, organisation).items()}
    params.update({f"reg_{name}": row.get(name) for name in _DRAFT_COLUMNS})
    try:
        if isinstance(bind, Connection):  # the autocommit connection
            org = execute_prepared(bind, "cxc_create_draft", _draft_statement(), params).one()
        else:
            org = bind.execute(_draft_statement(), params).one()
    except IntegrityError as exc:
        _raise_if_active(bind, exc, account_id)
        raise
    row["organisation_id"] = org.id
    return SimpleNamespace(**{column.name: row.get(column.name) for column in _REG.c}), org


def _raise_if_active(bind: Session | Connection, exc: IntegrityError, account_id: str) -> None:
    if isinstance(bind, Session):
        bind.rollback()
    if "account_id" in str(exc.orig) or "uq_registrations_one_active" in str(exc.orig):
        raise ActiveRegistrationExists(active_reference(bind, account_id)) from exc


_INSERT_REGISTRATION = _REG.insert()


def insert_registration(session: Session, values: dict[str, Any]) -> SimpleNamespace:
    """A new registration in one INSERT (the hot write path skips the ORM's unit of work).

    Raises ActiveRegistrationExists, after rolling the transaction back, when the
    participant already has an active one."""
    now = utcnow()
    row = {"id": new_id(), "reference": new_reference(), "version": 1, "created_at": now,
           "updated_at": now, **values}
    try:
        session.execute(_INSERT_REGISTRATION, row)
    except IntegrityError as exc:
        _raise_if_active(session, exc, values["account_id"])
        raise
    return SimpleNamespace(**{column.name: row.get(column.name) for column in _REG.c})


class ActiveRegistrationExists(Exception):
    def __init__(self, reference: str | None) -> None:
        super().__init__(reference)
        self.reference = reference


def active_reference(session: Session | Connection, account_id: str) -> str | None:
    return session.scalar(select(_REG.c.reference).where(
        _REG.c.account_id == account_id, _REG.c.status.in_(ACTIVE_STATES)))


def partnership_dict(p: Any, contact_points: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"id": p.id, "code": p.code, "name": p.name, "sectors": p.sectors,
            "countries": p.countries, "contact_points": contact_points or []}


def account_by_email(session: Session, email: str, for_update: bool = False) -> Account | None:
    query = select(Account).where(Account.email == email.strip().lower())
    if for_update and is_postgres(session):
        query = query.with_for_update()
    return session.scalar(query)


def organisation_of(session: Session, account_id: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.account_id == account_id))


def create_account(session: Session, email: str, password: str, full_name: str,
                   roles: list[str], partnership_id: str | None = None, verified: bool = True,
                   language: str = "en") -> Account:
    """An account. Made by an operator (seed, CLI) its email counts as verified; a sign-up
    passes verified=False and sends the verification email."""
    email = email.strip().lower()
    if account_by_email(session, email) is not None:
        raise Conflict("An account with this email already exists.", {"email": ["Already registered."]})
    account = Account(email=email, full_name=full_name, password_hash=hash_password(password),
                      roles=sorted(set(roles)), partnership_id=partnership_id, failed_logins=0,
                      email_verified_at=utcnow() if verified else None, language=language)
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


def reference_data(conn: Connection) -> dict[str, Any]:
    tax = reference.taxonomy()
    table = Country.__table__
    countries = [dict(row._mapping) for row in conn.execute(select(
        table.c.code, table.c.name, table.c.group, table.c.valid_from, table.c.valid_to
    ).order_by(table.c.name))]
    return {"countries": countries, "sectors": tax["sectors"], "objectives": tax["objectives"],
            "activity_types": tax["activity_types"],
            "organisation_types": tax["organisation_types"],
            "languages": sorted(set(tax["languages"]))}


# --- account emails, sessions, API keys --------------------------------------------------

def add_account_request(session: Session, account_id: str, purpose: str,
                        lifetime: timedelta) -> AccountRequest:
    now = utcnow()
    request = AccountRequest(id=new_id(), account_id=account_id, purpose=purpose, created_at=now,
                             expires_at=now + lifetime)
    session.add(request)
    session.flush()
    return request


def get_account_request(session: Session, request_id: str) -> AccountRequest | None:
    return session.get(AccountRequest, request_id)


def use_account_request(session: Session, request_id: str) -> bool:
    """Marks the request used; False when another request used it first (a link is single use
    even when clicked twice at once)."""
    now = utcnow()
    done = session.execute(update(AccountRequest).where(
        AccountRequest.id == request_id, AccountRequest.used_at.is_(None),
        AccountRequest.expires_at > now).values(used_at=now))
    return done.rowcount == 1


def retire_account_requests(session: Session, account_id: str, purposes: tuple[str, ...]) -> None:
    """Earlier links of these purposes stop working (a new password, a verified address)."""
    session.execute(update(AccountRequest).where(
        AccountRequest.account_id == account_id, AccountRequest.purpose.in_(purposes),
        AccountRequest.used_at.is_(None)).values(used_at=utcnow()))


def latest_request_at(session: Session, account_id: str, purpose: str) -> datetime | None:
    return session.scalar(select(func.max(AccountRequest.created_at)).where(
        AccountRequest.account_id == account_id, AccountRequest.purpose == purpose))


def add_revocation(session: Session, account_id: str, until: datetime,
                   session_id: str | None = None, not_before: datetime | None = None) -> Revocation:
    revocation = Revocation(id=new_id(), account_id=account_id, session_id=session_id,
                            not_before=not_before, until=until)
    session.add(revocation)
    session.flush()
    return revocation


def session_revoked(session: Session, session_id: str) -> bool:
    return session.scalar(select(Revocation.id).where(Revocation.session_id == session_id)) is not None


def revocations_in_force(conn: Session | Connection) -> list[Revocation]:
    return list(conn.execute(select(Revocation.__table__).where(Revocation.until > utcnow())))


def prune_revocations(session: Session) -> int:
    from sqlalchemy import delete

    return session.execute(delete(Revocation).where(Revocation.until <= utcnow())).rowcount


def add_api_key(session: Session, partnership_id: str, name: str, prefix: str, digest: str,
                created_by: str) -> ApiKey:
    key = ApiKey(id=new_id(), partnership_id=partnership_id, name=name, prefix=prefix,
                 secret_sha256=digest, created_by=created_by, created_at=utcnow())
    session.add(key)
    session.flush()
    return key


def api_key_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


def get_api_key(session: Session, key_id: str, for_update: bool = False) -> ApiKey | None:
    query = select(ApiKey).where(ApiKey.id == key_id)
    if for_update and is_postgres(session):
        query = query.with_for_update()
    return session.scalar(query)


def list_api_keys(conn: Session | Connection, partnership_id: str, page: int,
                  per_page: int) -> tuple[list[Any], int]:
    where = ApiKey.partnership_id == partnership_id
    total = conn.scalar(select(func.count()).select_from(ApiKey).where(where)) or 0
    rows = conn.execute(select(ApiKey.__table__).where(where)
                        .order_by(ApiKey.created_at.desc(), ApiKey.id)
                        .offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), total


def live_api_keys(session: Session, partnership_id: str) -> int:
    return session.scalar(select(func.count()).select_from(ApiKey).where(
        ApiKey.partnership_id == partnership_id, ApiKey.revoked_at.is_(None))) or 0


def notification_directory(conn: Connection, account_ids: list[str], registration_ids: list[str],
                           partnership_ids: list[str]) -> dict[str, Any]:
    """For notifications (with its service token): the registrations named (reference, owner,
    organisation name), the accounts named and the owners' (name and email), and the
    partnerships' names with their contact points."""
    accounts, regs, orgs = Account.__table__, Registration.__table__, _ORG
    registrations: dict[str, dict[str, Any]] = {}
    if registration_ids:
        rows = conn.execute(select(regs.c.id, regs.c.reference, regs.c.account_id, regs.c.partnership_id,
                                   orgs.c.name).join(orgs, orgs.c.id == regs.c.organisation_id)
                            .where(regs.c.id.in_(registration_ids)))
        for rid, ref, owner, partnership_id, org_name in rows:
            registrations[rid] = {"registration_id": rid, "reference": ref, "account_id": owner,
                                  "partnership_id": partnership_id, "organisation_name": org_name}
    wanted = set(account_ids) | {reg["account_id"] for reg in registrations.values()}
    people: dict[str, dict[str, Any]] = {}
    if wanted:
        for account_id, name, email in conn.execute(select(accounts.c.id, accounts.c.full_name,
                                                           accounts.c.email)
                                                    .where(accounts.c.id.in_(sorted(wanted)))):
            people[account_id] = {"account_id": account_id, "name": name, "email": email}
    contact_points: dict[str, list[dict[str, Any]]] = {}
    partnerships: dict[str, dict[str, Any]] = {}
    if partnership_ids:
        table = Partnership.__table__
        for pid, code, name in conn.execute(select(table.c.id, table.c.code, table.c.name)
                                            .where(table.c.id.in_(partnership_ids))):
            partnerships[pid] = {"partnership_id": pid, "code": code, "name": name}
        for account_id, pid, name, email in conn.execute(
                select(accounts.c.id, accounts.c.partnership_id, accounts.c.full_name, accounts.c.email)
                .where(accounts.c.partnership_id.in_(partnership_ids),
                       cast(accounts.c.roles, String).contains('"partnership_contact"'))
                .order_by(accounts.c.full_name, accounts.c.id)):
            contact_points.setdefault(pid, []).append(
                {"account_id": account_id, "name": name, "email": email})
    return {"accounts": people, "registrations": registrations, "partnerships": partnerships,
            "contact_points": contact_points}


# --- administrators' account management ----------------------------------------------------

_ACC = Account.__table__
MANAGED_FIELDS = ("id", "email", "full_name", "roles", "partnership_id", "language", "created_at",
                  "email_verified_at", "last_login_at", "suspended_at", "version")


def managed_account_dict(row: Any) -> dict[str, Any]:
    from services.registration.account_rules import status_of

    values = {field: getattr(row, field) for field in MANAGED_FIELDS}
    values["status"] = status_of(row.suspended_at, row.email_verified_at)
    return values


def _like(text: str) -> str:
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_accounts(conn: Session | Connection, filters: dict[str, Any]) -> tuple[list[Any], int]:
    """Accounts, newest first. The role filter matches the JSON array's text (`"admin"` with
    its quotes), which reads the same on SQLite's JSON and PostgreSQL's JSONB."""
    where = []
    if filters.get("role"):
        where.append(cast(_ACC.c.roles, String).like(f'%"{filters["role"]}"%'))
    if filters.get("partnership_id"):
        where.append(_ACC.c.partnership_id == filters["partnership_id"])
    status = filters.get("status")
    if status == "suspended":
        where.append(_ACC.c.suspended_at.is_not(None))
    elif status == "active":
        where += [_ACC.c.suspended_at.is_(None), _ACC.c.email_verified_at.is_not(None)]
    elif status == "unverified":
        where += [_ACC.c.suspended_at.is_(None), _ACC.c.email_verified_at.is_(None)]
    if filters.get("q"):
        pattern = _like(filters["q"])
        where.append(or_(func.lower(_ACC.c.email).like(pattern, escape="\\"),
                         func.lower(_ACC.c.full_name).like(pattern, escape="\\")))
    total = conn.scalar(select(func.count()).select_from(_ACC).where(*where)) or 0
    page, per_page = filters["page"], filters["per_page"]
    rows = conn.execute(select(_ACC).where(*where).order_by(_ACC.c.created_at.desc(), _ACC.c.id)
                        .offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), total


def account_for_update(session: Session, account_id: str) -> Account | None:
    query = select(Account).where(Account.id == account_id)
    if is_postgres(session):
        query = query.with_for_update()
    return session.scalar(query)


def add_audit(session: Session, account_id: str, actor_id: str | None, action: str,
              changes: dict[str, Any]) -> None:
    session.add(AccountAudit(id=new_id(), account_id=account_id, actor_id=actor_id, at=utcnow(),
                             action=action, changes=changes))


def list_audit(conn: Session | Connection, account_id: str, page: int,
               per_page: int) -> tuple[list[dict[str, Any]], int]:
    """One account's audit trail, newest first, with the acting administrator's address."""
    audit = AccountAudit.__table__
    actor = _ACC.alias("actor")
    where = audit.c.account_id == account_id
    total = conn.scalar(select(func.count()).select_from(audit).where(where)) or 0
    rows = conn.execute(
        select(audit, actor.c.email.label("actor_email"))
        .outerjoin(actor, actor.c.id == audit.c.actor_id).where(where)
        .order_by(audit.c.at.desc(), audit.c.id).offset((page - 1) * per_page).limit(per_page))
    return [dict(row._mapping) for row in rows], total

# --- statistics -----------------------------------------------------------------------------

def _in_scope(partnership_id: str | None) -> list[Any]:
    return [] if partnership_id is None else [Registration.partnership_id == partnership_id]


def registrations_by_status(session: Session, partnership_id: str | None) -> list[Any]:
    return list(session.execute(select(Registration.status, func.count())
                                .where(*_in_scope(partnership_id)).group_by(Registration.status)))


def registrations_by(session: Session, partnership_id: str | None, by: str) -> list[Any]:
    """(organisation's `country` or `partnership_id`, count) of the registrations that were
    submitted (drafts are not counted): one GROUP BY."""
    column = {"country": Organisation.country, "partnership_id": Registration.partnership_id}[by]
    return list(session.execute(
        select(column, func.count()).select_from(Registration)
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .where(Registration.status != DRAFT, *_in_scope(partnership_id)).group_by(column)))


def registrations_by_sector(session: Session, partnership_id: str | None) -> list[Any]:
    """(sector, count) over the submitted registrations' preferred sectors (one registration
    counts once in each of its sectors): the JSON array is expanded by the database."""
    if is_postgres(session):
        element = func.jsonb_array_elements_text(Registration.preferences["sectors"]).table_valued(
            "value").render_derived()
    else:  # SQLite's json_each(json, path) has a `value` column of its own
        element = func.json_each(Registration.preferences, "$.sectors").table_valued("value")
    return list(session.execute(
        select(element.c.value, func.count()).select_from(Registration).join(element, true())
        .where(Registration.status != DRAFT, *_in_scope(partnership_id))
        .group_by(element.c.value)))
