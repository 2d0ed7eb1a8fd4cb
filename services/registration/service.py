"""Registration service: accounts, partnerships, registrations and their assessment."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from nameko.dependency_providers import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from common.auth import Auth
from common.config import SERVICES
from common.db import Database, utcnow
from common.entrypoints import rpc
from common.errors import (
    Conflict,
    NotAllowed,
    NotFound,
    PreconditionRequired,
    StaleVersion,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from common.events import handles, jsonable, make_event
from common.fast_dump import fast_dump
from common.idempotency import IdempotencyKeys
from common.logs import RequestContext
from common.outbox import OutboxRelay, first_delivery, record_event
from common.rules import RuleResult, failures_by_field
from common.schemas import StatisticsQuerySchema, load, page_of
from common.service_identity import SERVICE_ROLE, require_service, secret_matches, service_subject
from common.statistics import counts, statistics_scope
from common.storage import (
    DOCUMENT_TYPES,
    SNIFF_BYTES,
    ObjectStoreProvider,
    check_document_head,
    safe_filename,
)
from services.registration import account_rules, domain, repository
from services.registration.account_admin import AccountAdminEntrypoints
from services.registration.identity import IdentityEntrypoints
from services.registration.models import (
    Account,
    IdempotencyKey,
    InboxEvent,
    Organisation,
    OutboxEvent,
    Registration,
)
from services.registration.passwords import verify_password
from services.registration.schemas import (
    AccountSchema,
    AssessmentSchema,
    CreateRegistrationSchema,
    CreateStaffAccountSchema,
    EligibilityPreviewSchema,
    EligibilitySchema,
    PartnershipSchema,
    RecipientsRequestSchema,
    ReferenceDataSchema,
    RegistrationListQuerySchema,
    RegistrationSchema,
    RegistrationStatisticsSchema,
    TokenRequestSchema,
    UpdateRegistrationSchema,
)

log = logging.getLogger(__name__)

# Schemas are built once: building one deep-copies every field, which costs more than a load.
_registration = RegistrationSchema()
# The hot read's dump as a plain function (same JSON: tests/unit/test_fast_dump.py).
_dump_registration = fast_dump(_registration)
_partnership = PartnershipSchema()
_create_staff_account = CreateStaffAccountSchema()
_token_request = TokenRequestSchema()
_create_registration = CreateRegistrationSchema()
_update_registration = UpdateRegistrationSchema()
_list_query = RegistrationListQuerySchema()
_assessment = AssessmentSchema()
_eligibility = EligibilitySchema()
_eligibility_preview = EligibilityPreviewSchema()
_account = AccountSchema()
_reference = ReferenceDataSchema()
_recipients_request = RecipientsRequestSchema()
_statistics_query = StatisticsQuerySchema()
_registration_statistics = RegistrationStatisticsSchema()


def draft_values(data: dict[str, Any]) -> dict[str, Any]:
    """The registration's columns of a new draft, from the loaded CreateRegistrationSchema."""
    return {"status": domain.DRAFT, "partnership_id": data["partnership_id"],
            "roles": data["roles"], "motivation": data.get("motivation"),
            "expertise": data.get("expertise"), "representative": jsonable(data["representative"]),
            "preferences": jsonable(data["preferences"])}


class RegistrationService(AccountAdminEntrypoints, IdentityEntrypoints):
    name = "registration"

    config = Config()
    db = Database()
    relay = OutboxRelay(OutboxEvent, inbox=InboxEvent)
    auth = Auth(signing=True)
    store = ObjectStoreProvider()
    idempotency = IdempotencyKeys(IdempotencyKey)
    request_context = RequestContext()

    # --- health -------------------------------------------------------------------

    @rpc
    def health(self) -> dict[str, Any]:
        self.db.reader.execute(text("SELECT 1"))
        return {"status": "ok"}

    # --- accounts -----------------------------------------------------------------

    @rpc
    def create_staff_account(self, payload: dict[str, Any]) -> dict[str, Any]:
        """An account with any role (contact points, agents, administrators) and a password,
        made by an administrator: what `cxc create-account` and the demo set call. People
        are invited through `invite_account` instead (no password crosses anyone's hands)."""
        caller = self.auth.caller
        caller.require("admin")
        data = load(_create_staff_account, payload)
        session = self.db.session
        partnership_id = None
        if data["partnership_code"]:
            partnership_id = repository.partnership_id_by_code(session, data["partnership_code"])
            if partnership_id is None:
                raise ValidationFailed("No such partnership.",
                                       {"partnership_code": [f"No partnership {data['partnership_code']}."]})
        domain.ensure_staff_account(data["roles"], partnership_id)
        try:
            account = repository.create_account(session, data["email"], data["password"],
                                                data["full_name"], data["roles"], partnership_id)
            repository.add_audit(session, account.id, caller.account_id, account_rules.CREATED,
                                 account_rules.changes({}, {"roles": account.roles,
                                                            "partnership_id": partnership_id}))
            session.commit()
        except IntegrityError as exc:
            raise Conflict("An account with this email already exists.",
                           {"email": ["Already registered."]}) from exc
        return self._account(account, None)

    @rpc
    def create_token(self, payload: dict[str, Any]) -> dict[str, Any]:
        data = load(_token_request, payload)
        policy = domain.LockoutPolicy.from_config(self.config["SECURITY"])
        session = self.db.session
        # The row lock serialises sign-ins to one account, so parallel guesses cannot all
        # pass the lockout check before the first failure is counted.
        account = repository.account_by_email(session, data["email"], for_update=True)
        now = utcnow()
        locked = account is not None and policy.is_locked(account.locked_until, now)
        # Verified even when locked or unknown, so that every refusal takes as long.
        password_ok = verify_password(account.password_hash if account else None, data["password"])
        if locked:
            session.rollback()
            raise Unauthorized("The email or password is not right.")
        if not password_ok:
            if account is not None:
                # Counted in SQL, so parallel guesses cannot overwrite each other's count.
                account.failed_logins = Account.failed_logins + 1
                session.flush()
                session.refresh(account, ["failed_logins"])
                account.failed_logins, locked_until = policy.after_failure(account.failed_logins, now)
                if locked_until is not None:
                    account.locked_until = locked_until
                session.commit()
            raise Unauthorized("The email or password is not right.")
        if account.suspended_at is not None:
            # Told only to whoever knows the password: nothing more leaks to a guesser.
            session.rollback()
            raise Unauthorized("This account is suspended: ask the programme's administrators.")
        account.failed_logins = 0
        account.locked_until = None
        account.last_login_at = now
        org = repository.organisation_of(session, account.id)
        session.commit()
        token, ttl = self.auth.tokens.issue(account.id, account.roles, org.id if org else None,
                                            account.partnership_id)
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}

    @rpc
    def issue_service_token(self, service: str, secret: str) -> dict[str, Any]:
        """A short-lived token for a platform service that offers its secret
        (common.service_identity): role `service`, subject `service:<name>`."""
        if service not in SERVICES or service == self.name or not secret_matches(
                self.config, service, secret):
            raise Unauthorized("Unknown service or wrong secret.")
        ttl = int((self.config.get("SERVICE_IDENTITY") or {}).get("ttl_seconds", 300))
        token, expires_in = self.auth.tokens.issue(service_subject(service), [SERVICE_ROLE], None,
                                                   None, ttl=ttl)
        return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}

    @rpc
    def notification_recipients(self, request: dict[str, Any]) -> dict[str, Any]:
        """Names and addresses of the people an event concerns, for notifications' service
        token only (read-only; docs/architecture.md, service identity)."""
        require_service(self.auth.caller, "notifications")
        data = load(_recipients_request, request or {})
        return repository.notification_directory(self.db.reader, data["account_ids"],
                                                 data["registration_ids"], data["partnership_ids"])

    @rpc
    def get_me(self) -> dict[str, Any]:
        caller = self.auth.caller
        account = repository.get_account(self.db.reader, caller.account_id)
        if account is None:
            raise Unauthorized("This account no longer exists.")
        return self._account(account, repository.organisation_id_of(self.db.reader, account.id))

    # --- partnerships and reference data -------------------------------------------

    @rpc
    def list_partnerships(self) -> list[dict[str, Any]]:
        return [_partnership.dump(p) for p in repository.list_partnerships(self.db.reader)]

    @rpc
    def get_partnership(self, partnership_id: str) -> dict[str, Any]:
        return _partnership.dump(repository.get_partnership(self.db.reader, partnership_id))

    @rpc
    def get_reference_data(self) -> dict[str, Any]:
        return _reference.dump(repository.reference_data(self.db.reader))

    # --- registrations ----------------------------------------------------------------

    @rpc
    def create_registration(self, payload: dict[str, Any],
                            idempotency_key: str | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        caller.require("participant")
        data = load(_create_registration, payload)
        session = self.db.session
        # Without an idempotency key the draft is one statement that needs no transaction
        # around it: in autocommit it is one round trip instead of four (BEGIN, upsert,
        # insert, COMMIT). With a key, it joins the key's transaction.
        bind = (self.db.autocommit if idempotency_key is None else None) or session

        def start_draft() -> dict[str, Any]:
            repository.ensure_partnership(bind, data["partnership_id"])
            try:
                reg, org = repository.create_draft(bind, caller.account_id, data["organisation"],
                                                   draft_values(data))
            except repository.ActiveRegistrationExists as exc:
                raise Conflict(f"You already have an active registration ({exc.reference}); "
                               "edit it or withdraw it first.") from exc
            return self._dump(reg, org)

        return self.idempotency.run(session, idempotency_key, caller.account_id,
                                    "create_registration", payload, start_draft)

    @rpc
    def get_registration(self, registration_id: str) -> dict[str, Any]:
        caller = self.auth.caller
        registration = repository.read_registration(self.db.reader, registration_id)
        domain.ensure_visible(caller, registration["account_id"], registration["partnership_id"])
        return _dump_registration(registration)

    @rpc
    def list_registrations(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        filters = load(_list_query, query or {})
        scope = domain.visible_scope(caller)
        if scope is None:
            return page_of([], 0, filters["page"], filters["per_page"])
        account_id, partnership_id = scope
        rows, total = repository.list_registrations(self.db.reader, filters, account_id,
                                                    partnership_id)
        items = [_dump_registration(registration) for registration in rows]
        return page_of(items, total, filters["page"], filters["per_page"])

    @rpc
    def registration_statistics(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """Registrations by status, and the submitted ones by country, sector and partnership
        (administrators: the programme or one partnership; a contact point: its own)."""
        data = load(_statistics_query, query or {})
        only = statistics_scope(self.auth.caller, data["partnership_id"])
        reader = self.db.reader
        by_status = counts(repository.registrations_by_status(reader, only))
        return _registration_statistics.dump({
            "partnership_id": only, "total": sum(item["count"] for item in by_status),
            "by_status": by_status,
            "by_country": counts(repository.registrations_by(reader, only, "country")),
            "by_sector": counts(repository.registrations_by_sector(reader, only)),
            "by_partnership": counts(repository.registrations_by(reader, only, "partnership_id"))})

    @rpc
    def update_registration(self, registration_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch (RFC 7396) of the registration, at the version the caller read."""
        caller = self.auth.caller
        data = load(_update_registration, payload)
        session = self.db.session
        reg, org = repository.load_registration(session, registration_id, for_update=True)
        domain.ensure_visible(caller, reg.account_id, reg.partnership_id)
        domain.ensure_owner(caller, reg.account_id)
        expected = data.pop("version", None)
        if expected is None:
            raise PreconditionRequired("Say which version you edited: send If-Match with its "
                                       "ETag, or `version` in the body.")
        _check_version(reg, expected)
        patch = jsonable(data)
        current = jsonable(repository.registration_dict(reg, org))
        domain.ensure_editable(reg.status, domain.changed_members(current, patch))
        if "partnership_id" in data:
            repository.ensure_partnership(session, data["partnership_id"])
        edit = domain.edit_from_patch(data, patch, {member: getattr(reg, member)
                                                    for member in domain.MERGED_MEMBERS})
        for field, value in edit.organisation.items():
            setattr(org, field, value)
        for field, value in edit.registration.items():
            setattr(reg, field, value)
        reg.updated_at = utcnow()
        if domain.emits_update(reg.status):
            self._emit(reg, org, "registration_updated", caller.account_id)
        return self._commit_and_dump(reg, org)

    @rpc
    def check_eligibility(self, registration_id: str) -> dict[str, Any]:
        caller = self.auth.caller
        registration = repository.read_registration(self.db.reader, registration_id)
        domain.ensure_visible(caller, registration["account_id"], registration["partnership_id"])
        results = self._eligibility(registration, self.db.reader)
        return _eligibility.dump({"eligible": all(r.passed for r in results),
                                         "rules": [r.to_dict() for r in results]})

    @rpc
    def preview_eligibility(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The rules about who may take part, for anyone (no account, nothing stored); the
        completeness rules of a registration are left out."""
        data = load(_eligibility_preview, payload)
        results = [r for r in self._eligibility(data, self.db.reader) if r.rule != "complete"]
        return _eligibility.dump({"eligible": all(r.passed for r in results),
                                  "rules": [r.to_dict() for r in results]})

    @rpc
    def submit_registration(self, registration_id: str, version: int | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        session = self.db.session
        reg, org = repository.load_registration(session, registration_id, for_update=True)
        domain.ensure_visible(caller, reg.account_id, reg.partnership_id)
        domain.ensure_owner(caller, reg.account_id)
        if version is not None:
            _check_version(reg, version)
        reg.status = domain.next_state_on_submit(reg.status)
        account = session.get(Account, caller.account_id)
        domain.ensure_email_verified(account.email_verified_at if account else None)
        errors = failures_by_field(
            self._eligibility(repository.registration_dict(reg, org), session))
        if errors:
            raise ValidationFailed("The registration is not complete or not eligible.", errors)
        reg.submitted_at = reg.updated_at = utcnow()
        self._emit(reg, org, "registration_submitted", caller.account_id)
        return self._commit_and_dump(reg, org)

    @rpc
    def assess_registration(self, registration_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        caller = self.auth.caller
        caller.require("partnership_contact", "admin")
        data = load(_assessment, payload)
        session = self.db.session
        reg, org = repository.load_registration(session, registration_id, for_update=True)
        domain.ensure_visible(caller, reg.account_id, reg.partnership_id)
        domain.ensure_assessor(caller, reg.partnership_id)
        if data.get("version") is not None:
            _check_version(reg, data["version"])
        reg.status = domain.next_state_on_assessment(reg.status, data["decision"])
        reg.assessment_decision = data["decision"]
        reg.assessment_comment = data.get("comment")
        reg.assessed_by = caller.account_id
        reg.assessed_at = reg.updated_at = utcnow()
        # The comment stays out of the event (free text to the participant): ask for the
        # registration over RPC.
        self._emit(reg, org, domain.DECISION_EVENTS[reg.status], caller.account_id)
        return self._commit_and_dump(reg, org)

    @rpc
    def withdraw_registration(self, registration_id: str) -> dict[str, Any]:
        caller = self.auth.caller
        session = self.db.session
        reg, org = repository.load_registration(session, registration_id, for_update=True)
        domain.ensure_visible(caller, reg.account_id, reg.partnership_id)
        if not caller.is_admin:
            domain.ensure_owner(caller, reg.account_id)
        reg.status = domain.next_state_on_withdraw(reg.status)
        reg.withdrawn_at = reg.updated_at = utcnow()
        self._emit(reg, org, "registration_withdrawn", caller.account_id)
        return self._commit_and_dump(reg, org)

    @rpc
    def list_catalogue_profiles(self, after_id: str | None = None, limit: int = 500) -> dict[str, Any]:
        """Accepted registrations as their event profiles, in id order after `after_id`, for
        rebuilding read models (admins). `next_after` is None on the last page."""
        caller = self.auth.caller
        caller.require("admin")
        limit = max(1, min(int(limit), 1000))
        rows = repository.accepted_after(self.db.reader, after_id, limit)
        items = [domain.event_profile(jsonable(row)) for row in rows]
        return {"items": items, "next_after": rows[-1]["id"] if len(rows) == limit else None}

    # --- contact details, disclosed by accepted contacts ----------------------------

    @rpc
    def get_contact_details(self, registration_id: str) -> dict[str, Any]:
        """The representative's contact details, for whoever has a reason to read them."""
        caller = self.auth.caller
        reader = self.db.reader
        registration = repository.read_registration(reader, registration_id)
        disclosed = (caller.has("participant")
                     and repository.disclosed_to(reader, caller.account_id, registration_id))
        if not domain.may_read_contact(caller, registration["account_id"],
                                       registration["partnership_id"], disclosed):
            raise NotFound("No such registration.")
        return domain.contact_details(registration)

    @rpc
    def get_public_profiles(self, registration_ids: list[str]) -> list[dict[str, Any]]:
        """Public profiles (no personal data) of the registrations the caller may know of:
        their own in any state, accepted ones once the caller may browse the catalogue, and
        their partnership's or everything for staff. Others are left out, not refused."""
        caller = self.auth.caller
        reader = self.db.reader
        wanted = [str(i) for i in (registration_ids or [])][:50]
        rows = repository.read_registrations(reader, wanted)
        browsing = domain.may_browse_accepted(caller, repository.has_accepted(reader, caller.account_id))
        return [domain.event_profile(jsonable(row)) for row in rows
                if domain.may_see_profile(caller, row["account_id"], row["partnership_id"],
                                          row["status"], browsing)]

    @handles("matching", "contact_accepted")
    def handle_contact_accepted(self, payload: dict[str, Any]) -> None:
        session = self.db.session
        if not first_delivery(session, InboxEvent, payload["event_id"], "handle_contact_accepted"):
            return
        repository.record_disclosure(session, payload["requester_registration_id"],
                                     payload["recipient_registration_id"], payload["contact_id"])
        session.commit()

    # --- CV --------------------------------------------------------------------------

    @rpc
    def check_cv_upload(self, registration_id: str) -> dict[str, Any]:
        """Whether the caller may attach a CV now: asked before anything is stored."""
        caller = self.auth.caller
        registration = repository.read_registration(self.db.reader, registration_id)
        domain.ensure_may_change_cv(caller, registration["account_id"],
                                    registration["partnership_id"], registration["status"])
        return {"registration_id": registration_id, "version": registration["version"]}

    @rpc
    def attach_cv(self, registration_id: str, key: str, filename: str | None) -> dict[str, Any]:
        caller = self.auth.caller
        session = self.db.session
        reg, org = repository.load_registration(session, registration_id, for_update=True)
        domain.ensure_may_change_cv(caller, reg.account_id, reg.partnership_id, reg.status)
        if not key.startswith(f"cv/{registration_id}/"):
            raise NotAllowed("That document was not uploaded for this registration.")
        # The gateway sniffed the upload already; the owner of the data checks again, from
        # the head of the object and the size and hash recorded with it.
        stored = self.store.stat(key)
        if not stored.sha256:
            raise UnsupportedMediaType("The document carries no recorded hash.")
        content_type = check_document_head(self.store.head(key, SNIFF_BYTES), stored.size,
                                           DOCUMENT_TYPES, self.config["UPLOADS"]["cv_max_bytes"])
        previous = reg.cv_key
        reg.cv_key, reg.cv_sha256, reg.cv_size = key, stored.sha256, stored.size
        reg.cv_content_type, reg.cv_filename = content_type, safe_filename(filename, "cv")
        reg.cv_uploaded_at = reg.updated_at = utcnow()
        result = self._commit_and_dump(reg, org)
        if previous and previous != key:
            try:
                self.store.delete(previous)
            except Exception:  # the new CV is attached; an orphan object is only litter
                log.warning("could not delete the previous CV %s of registration %s", previous,
                            registration_id, exc_info=True)
        return result

    @rpc
    def get_cv(self, registration_id: str) -> dict[str, Any]:
        caller = self.auth.caller
        registration = repository.read_registration(self.db.reader, registration_id)
        domain.ensure_visible(caller, registration["account_id"], registration["partnership_id"])
        cv = registration["cv"]
        if not cv:
            raise NotFound("This registration has no CV yet.")
        return {"key": cv["key"], "filename": cv["filename"], "content_type": cv["content_type"],
                "size": cv["size"], "sha256": cv["sha256"]}

    # --- helpers ------------------------------------------------------------------------

    @staticmethod
    def _eligibility(registration: dict[str, Any],
                     conn: Session | Connection) -> list[RuleResult]:
        periods = repository.country_periods(conn)
        return domain.check_eligibility(registration, periods, datetime.now(UTC).date())

    def _emit(self, reg: Registration, org: Organisation, event_type: str, actor_id: str,
              **extra: Any) -> None:
        try:
            self.db.session.flush()  # assigns the new version the event reports
        except StaleDataError as exc:
            raise StaleVersion("Someone else changed this registration; reload it.") from exc
        profile = domain.event_profile(jsonable(repository.registration_dict(reg, org)))
        record_event(self.db.session, OutboxEvent, make_event(event_type, {**profile, **extra},
                                                              actor_id))

    def _commit_and_dump(self, reg: Registration, org: Organisation) -> dict[str, Any]:
        try:
            self.db.session.commit()
        except StaleDataError as exc:
            raise StaleVersion("Someone else changed this registration; reload it.") from exc
        return self._dump(reg, org)

    def _dump(self, reg: Registration, org: Organisation) -> dict[str, Any]:
        return _dump_registration(repository.registration_dict(reg, org))

    @staticmethod
    def _account(account: Any, org_id: str | None) -> dict[str, Any]:
        return _account.dump({
            "id": account.id, "email": account.email, "full_name": account.full_name,
            "roles": account.roles, "partnership_id": account.partnership_id,
            "org_id": org_id, "created_at": account.created_at,
            "email_verified": account.email_verified_at is not None,
            "language": account.language})


def _check_version(reg: Registration, expected: int) -> None:
    if reg.version != expected:
        raise StaleVersion(f"You edited version {expected}; the registration is now at version "
                           f"{reg.version}. Reload it and apply your change again.")

