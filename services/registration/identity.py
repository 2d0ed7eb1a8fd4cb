"""Registration's entrypoints about identity: sign-up, account emails, sessions, API keys.

Mixed into RegistrationService (which provides config, db, auth, idempotency); the rules
live in account_tokens.py and the queries in repository.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy.exc import IntegrityError

from common.auth import Caller
from common.db import utcnow
from common.entrypoints import rpc
from common.errors import Conflict, InvalidState, NotAllowed, NotFound, TooManyRequests, Unauthorized
from common.events import make_event
from common.idempotency import ANONYMOUS
from common.outbox import record_event
from common.schemas import PageQuerySchema, load, page_of
from common.service_identity import require_service
from services.registration import account_tokens as links
from services.registration import repository
from services.registration.models import Account, ApiKey, OutboxEvent
from services.registration.passwords import hash_password
from services.registration.schemas import (
    ApiKeySchema,
    CreateAccountSchema,
    CreateApiKeySchema,
    CreatedApiKeySchema,
    MessageContextRequestSchema,
    PasswordResetConfirmSchema,
    PasswordResetRequestSchema,
    VerifyEmailSchema,
)

# A revocation is kept this much longer than the longest token it covers (clock skew).
_REVOCATION_MARGIN = timedelta(seconds=60)

_create_account = CreateAccountSchema()
_verify = VerifyEmailSchema()
_reset_request = PasswordResetRequestSchema()
_reset_confirm = PasswordResetConfirmSchema()
_message_context = MessageContextRequestSchema()
_create_api_key = CreateApiKeySchema()
_api_key = ApiKeySchema()
_created_api_key = CreatedApiKeySchema()
_page_query = PageQuerySchema()


def sign_up_answer(email: str) -> dict[str, Any]:
    return {"email": email, "status": "check_your_email",
            "detail": "We sent an email to this address: follow its link to go on."}


def accepted(status: str, detail: str) -> dict[str, Any]:
    return {"status": status, "detail": detail}


@cache
def _secret(configured: str, keys_dir: str) -> bytes:
    return links.load_secret({"token_secret": configured}, keys_dir)


class IdentityEntrypoints:
    # --- sign-up and email verification ----------------------------------------------------

    @rpc
    def create_account(self, payload: dict[str, Any],
                       idempotency_key: str | None = None) -> dict[str, Any]:
        """A sign-up. A known address answers exactly like a new one (its owner is emailed
        instead), so the answer never tells whether an address is registered."""
        data = load(_create_account, payload)
        email = data["email"].strip().lower()
        session = self.db.session

        def sign_up() -> dict[str, Any]:
            existing = repository.account_by_email(session, email)
            if existing is None:
                account = repository.create_account(
                    session, email, data["password"], data["full_name"], ["participant"],
                    verified=False, language=data["language"])
                self._account_email(account.id, links.VERIFY_EMAIL, None)
            else:
                hash_password(data["password"])  # the work a new account costs, thrown away
                self._account_email(existing.id, links.SIGNUP_EXISTING, None, throttle=True)
            return sign_up_answer(email)

        try:
            return self.idempotency.run(session, idempotency_key, ANONYMOUS, "create_account",
                                        payload, sign_up, secret_fields=("password",))
        except IntegrityError:
            # The same new address signing up twice at once: the second is a known address.
            session.rollback()
            return self.idempotency.run(session, idempotency_key, ANONYMOUS, "create_account",
                                        payload, sign_up, secret_fields=("password",))

    @rpc
    def verify_email(self, payload: dict[str, Any]) -> dict[str, Any]:
        token = load(_verify, payload)["token"]
        session = self.db.session
        row = self._usable_request(token, (links.VERIFY_EMAIL,))
        account = session.get(Account, row.account_id)
        if account.email_verified_at is None:
            account.email_verified_at = utcnow()
        session.commit()
        return accepted("verified", "Your email address is verified.")

    @rpc
    def resend_verification(self) -> dict[str, Any]:
        caller = self.auth.caller
        session = self.db.session
        account = self._own_account(caller)
        if account.email_verified_at is not None:
            raise InvalidState("Your email address is verified already.")
        interval = timedelta(seconds=self.config["ACCOUNTS"]["resend_interval_seconds"])
        latest = repository.latest_request_at(session, account.id, links.VERIFY_EMAIL)
        if latest is not None and utcnow() - latest < interval:
            raise TooManyRequests("We sent a verification email a moment ago; wait a minute "
                                  "before asking for another.")
        self._account_email(account.id, links.VERIFY_EMAIL, caller.account_id)
        session.commit()
        return accepted("accepted", "We sent a new verification email.")

    # --- password reset --------------------------------------------------------------------

    @rpc
    def request_password_reset(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Always the same answer: whether the address is registered stays unknown."""
        email = load(_reset_request, payload)["email"]
        session = self.db.session
        account = repository.account_by_email(session, email)
        if account is not None:
            self._account_email(account.id, links.RESET_PASSWORD, None, throttle=True)
        session.commit()
        return accepted("accepted", "If an account uses this address, we sent it an email "
                                    "with a link to choose a new password.")

    @rpc
    def confirm_password_reset(self, payload: dict[str, Any]) -> dict[str, Any]:
        data = load(_reset_confirm, payload)
        new_hash = hash_password(data["new_password"])  # before any row is locked
        session = self.db.session
        row = self._usable_request(data["token"], links.SETS_PASSWORD)
        account = session.get(Account, row.account_id)
        account.password_hash = new_hash
        account.failed_logins = 0
        account.locked_until = None
        if account.email_verified_at is None:  # the link reached this address
            account.email_verified_at = utcnow()
        repository.retire_account_requests(session, account.id, links.SETS_PASSWORD)
        self._revoke_account(account.id, account.id)
        if row.purpose != links.INVITATION:  # an invitee chose a first password: no notice
            record_event(session, OutboxEvent,
                         make_event("password_changed", {"account_id": account.id}, account.id))
        session.commit()
        return accepted("password_changed", "Your password is changed; every session signed "
                                            "in before is signed out.")

    # --- what the notifications service needs for an account email -------------------------

    @rpc
    def account_message_context(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Address, name, language and (for a request) the link's token — for the
        notifications service only. The token is recomputed, never read from storage."""
        caller = self.auth.caller
        require_service(caller, "notifications")
        data = load(_message_context, payload)
        session = self.db.session  # one connection only: SQLite's pool holds one
        account = repository.get_account(session, data["account_id"])
        if account is None:
            raise NotFound("No such account.")
        context: dict[str, Any] = {"email": account.email, "name": account.full_name,
                                   "language": account.language or "en", "purpose": None,
                                   "token": None, "expires_at": None}
        if data["request_id"] is None:
            return context
        row = repository.get_account_request(session, data["request_id"])
        if row is None or row.account_id != account.id:
            raise NotFound("No such request for this account.")
        if row.used_at is not None or row.expires_at <= utcnow():
            raise InvalidState("This request was used or has expired: there is nothing to send.")
        context.update(purpose=row.purpose, expires_at=row.expires_at.isoformat(),
                       token=links.make_token(self._link_secret(), row.purpose, account.id, row.id))
        return context

    # --- sessions --------------------------------------------------------------------------

    @rpc
    def sign_out(self) -> None:
        caller = self.auth.caller
        self._ensure_person(caller)
        if caller.session_id:
            self._revoke_session(caller.account_id, caller.session_id, caller.account_id,
                                 timedelta(seconds=self.auth.tokens.ttl))
            self.db.session.commit()

    @rpc
    def sign_out_everywhere(self) -> None:
        caller = self.auth.caller
        self._ensure_person(caller)
        self._revoke_account(caller.account_id, caller.account_id)
        self.db.session.commit()

    @rpc
    def list_revocations(self) -> list[dict[str, Any]]:
        """Every revocation still in force, for a token verifier catching up (ids and times
        only)."""
        return [_revocation_entry(row) for row in repository.revocations_in_force(self.db.reader)]

    # --- API keys of partnership back-offices ------------------------------------------------

    @rpc
    def create_api_key(self, payload: dict[str, Any]) -> dict[str, Any]:
        caller = self.auth.caller
        partnership_id = _contact_partnership(caller)
        data = load(_create_api_key, payload)
        session = self.db.session
        if repository.live_api_keys(session, partnership_id) >= self.config["ACCOUNTS"]["max_api_keys"]:
            raise Conflict("Your partnership has as many keys as it may: revoke one first.")
        new = links.new_api_key()
        row = repository.add_api_key(session, partnership_id, data["name"], new.prefix,
                                     new.secret_sha256, caller.account_id)
        result = _created_api_key.dump({**_key_dict(row), "key": new.key})
        session.commit()
        return result

    @rpc
    def list_api_keys(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        partnership_id = _contact_partnership(caller)
        filters = load(_page_query, query or {})
        rows, total = repository.list_api_keys(self.db.reader, partnership_id, filters["page"],
                                               filters["per_page"])
        return page_of([_api_key.dump(dict(row._mapping)) for row in rows], total,
                       filters["page"], filters["per_page"])

    @rpc
    def revoke_api_key(self, key_id: str) -> None:
        caller = self.auth.caller
        partnership_id = _contact_partnership(caller)
        session = self.db.session
        row = repository.get_api_key(session, key_id, for_update=True)
        if row is None or row.partnership_id != partnership_id:
            raise NotFound("No such API key.")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            ttl = timedelta(seconds=self.config["ACCOUNTS"]["api_key_token_ttl_seconds"])
            self._revoke_session(links.api_key_subject(row.id), row.id, caller.account_id, ttl)
        session.commit()

    @rpc
    def exchange_api_key(self, key: str) -> dict[str, Any]:
        """A short-lived `backoffice` token for a live API key (the gateway asks, and caches
        it briefly; revoking the key revokes the token's session)."""
        parts = links.split_api_key(key)
        if parts is None:
            raise Unauthorized("The API key is not valid.")
        session = self.db.session
        row = repository.api_key_by_prefix(session, parts[0])
        if row is None or row.revoked_at is not None or not links.secret_matches(
                parts[1], row.secret_sha256):
            session.rollback()
            raise Unauthorized("The API key is not valid.")
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
            row.last_used_at = now
        session.commit()
        token, ttl = self.auth.tokens.issue(
            links.api_key_subject(row.id), ["backoffice"], None, row.partnership_id,
            session_id=row.id, ttl=self.config["ACCOUNTS"]["api_key_token_ttl_seconds"])
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}

    # --- helpers ------------------------------------------------------------------------------

    def _link_secret(self) -> bytes:
        return _secret(self.config["ACCOUNTS"].get("token_secret") or "",
                       self.config["JWT"]["keys_dir"])

    def _account_email(self, account_id: str, purpose: str, actor_id: str | None,
                       throttle: bool = False) -> None:
        """A request and its event (ids only) in the caller's transaction. Throttled ones are
        dropped silently when the last one is recent: nobody can flood an inbox."""
        session = self.db.session
        cfg = self.config["ACCOUNTS"]
        if throttle:
            latest = repository.latest_request_at(session, account_id, purpose)
            if latest is not None and utcnow() - latest < timedelta(
                    seconds=cfg["resend_interval_seconds"]):
                return
        minutes = {links.VERIFY_EMAIL: cfg["verification_ttl_minutes"],
                   links.INVITATION: cfg.get("invitation_ttl_minutes", 7 * 24 * 60)}.get(
            purpose, cfg["reset_ttl_minutes"])
        request = repository.add_account_request(session, account_id, purpose,
                                                  timedelta(minutes=minutes))
        record_event(session, OutboxEvent, make_event(
            links.EVENT_OF_PURPOSE[purpose], {"account_id": account_id, "request_id": request.id},
            actor_id))

    def _usable_request(self, token: Any, purposes: tuple[str, ...]) -> Any:
        """The request a token names, claimed for use in this transaction (or a ValidationFailed)."""
        session = self.db.session
        row = repository.get_account_request(session, links.request_id_of(token))
        links.check_token(self._link_secret(), token, row, purposes, utcnow())
        if not repository.use_account_request(session, row.id):
            session.rollback()
            raise links.invalid_link()
        return row

    def _own_account(self, caller: Caller) -> Account:
        account = self.db.session.get(Account, caller.account_id)
        if account is None:
            raise Unauthorized("This account no longer exists.")
        return account

    @staticmethod
    def _ensure_person(caller: Caller) -> None:
        if caller.has("service", "backoffice"):
            raise NotAllowed("An API key or a service token is not a session: revoke the key.")

    def _revoke_session(self, account_id: str, session_id: str, actor_id: str,
                        lifetime: timedelta) -> None:
        session = self.db.session
        if repository.session_revoked(session, session_id):
            return
        until = utcnow() + lifetime + _REVOCATION_MARGIN
        row = repository.add_revocation(session, account_id, until, session_id=session_id)
        self._publish_revocation("session_revoked", row, actor_id)

    def _revoke_account(self, account_id: str, actor_id: str) -> None:
        now = utcnow()
        until = now + timedelta(seconds=self.auth.tokens.ttl) + _REVOCATION_MARGIN
        row = repository.add_revocation(self.db.session, account_id, until, not_before=now)
        self._publish_revocation("account_sessions_revoked", row, actor_id)

    def _publish_revocation(self, event_type: str, row: Any, actor_id: str) -> None:
        entry = _revocation_entry(row)
        record_event(self.db.session, OutboxEvent, make_event(event_type, entry, actor_id))
        repository.prune_revocations(self.db.session)
        # This process refuses the token at once; the others when the event reaches them.
        self.auth.tokens.revoked.apply(entry)


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _revocation_entry(row: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"account_id": row.account_id, "until": _epoch(row.until)}
    if row.session_id:
        entry["session_id"] = row.session_id
    else:
        entry["not_before"] = _epoch(row.not_before)
    return entry


def _contact_partnership(caller: Caller) -> str:
    """A contact point's own partnership: only they manage its keys."""
    if not caller.has("partnership_contact") or not caller.partnership_id:
        raise NotAllowed("Only a partnership's contact point manages its API keys.")
    return caller.partnership_id


def _key_dict(row: ApiKey) -> dict[str, Any]:
    return {column: getattr(row, column) for column in (
        "id", "name", "prefix", "partnership_id", "created_by", "created_at", "revoked_at",
        "last_used_at")}

