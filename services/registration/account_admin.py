"""Registration's entrypoints for administrators managing accounts: list and read them,
invite staff, change roles and partnership, suspend and reactivate, and read the audit trail.

Mixed into RegistrationService (which provides db, auth, idempotency and the identity
helpers `_account_email` and `_revoke_account`); the rules live in account_rules.py and
domain.py, the queries in repository.py.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.exc import IntegrityError

from common.auth import Caller
from common.db import utcnow
from common.entrypoints import rpc
from common.errors import Conflict, NotFound, PreconditionRequired, ValidationFailed
from common.schemas import PageQuerySchema, load, page_of
from services.registration import account_rules as rules
from services.registration import account_tokens as links
from services.registration import domain, repository
from services.registration.models import Account, Partnership
from services.registration.schemas import (
    AccountAuditEntrySchema,
    AccountListQuerySchema,
    AccountStatusChangeSchema,
    InviteAccountSchema,
    ManagedAccountSchema,
    UpdateAccountSchema,
)

_list_query = AccountListQuerySchema()
_page_query = PageQuerySchema()
_managed = ManagedAccountSchema()
_invite = InviteAccountSchema()
_update = UpdateAccountSchema()
_status_change = AccountStatusChangeSchema()
_audit_entry = AccountAuditEntrySchema()


class AccountAdminEntrypoints:
    @rpc
    def list_accounts(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        self._administrator()
        filters = load(_list_query, query or {})
        rows, total = repository.list_accounts(self.db.reader, filters)
        return page_of([_managed.dump(repository.managed_account_dict(row)) for row in rows],
                       total, filters["page"], filters["per_page"])

    @rpc
    def get_account(self, account_id: str) -> dict[str, Any]:
        self._administrator()
        row = repository.get_account(self.db.reader, account_id)
        if row is None:
            raise NotFound("No such account.")
        return _managed.dump(repository.managed_account_dict(row))

    @rpc
    def list_account_audit(self, account_id: str,
                           query: dict[str, Any] | None = None) -> dict[str, Any]:
        self._administrator()
        filters = load(_page_query, query or {})
        if repository.get_account(self.db.reader, account_id) is None:
            raise NotFound("No such account.")
        entries, total = repository.list_audit(self.db.reader, account_id, filters["page"],
                                               filters["per_page"])
        return page_of([_audit_entry.dump(entry) for entry in entries], total, filters["page"],
                       filters["per_page"])

    @rpc
    def invite_account(self, payload: dict[str, Any],
                       idempotency_key: str | None = None) -> dict[str, Any]:
        """A staff account without a password: the invitee is emailed a single-use link
        (valid INVITATION_TTL_MINUTES) to choose one, which also verifies the address."""
        caller = self._administrator()
        data = load(_invite, payload)
        session = self.db.session
        roles = rules.normalised_roles(data["roles"])

        def invite() -> dict[str, Any]:
            self._ensure_partnership_exists(data["partnership_id"])
            domain.ensure_staff_account(roles, data["partnership_id"], field="partnership_id")
            # Nobody knows this password: the account is usable once the invitee chose theirs.
            account = repository.create_account(
                session, data["email"], secrets.token_urlsafe(32), data["full_name"], roles,
                data["partnership_id"], verified=False, language=data["language"])
            repository.add_audit(session, account.id, caller.account_id, rules.INVITED,
                                 rules.changes({}, {"roles": roles,
                                                    "partnership_id": data["partnership_id"]}))
            self._account_email(account.id, links.INVITATION, caller.account_id)
            session.flush()
            return _managed.dump(repository.managed_account_dict(account))

        try:
            return self.idempotency.run(session, idempotency_key, caller.account_id,
                                        "invite_account", payload, invite)
        except IntegrityError as exc:  # the same address invited twice at once
            session.rollback()
            raise Conflict("An account with this email already exists.",
                           {"email": ["Already registered."]}) from exc

    @rpc
    def update_account(self, account_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch of roles and partnership at the version the administrator read.
        A real change signs the account out everywhere: its tokens carry the old roles."""
        caller = self._administrator()
        data = load(_update, payload)
        expected = data.pop("version", None)
        if expected is None:
            raise PreconditionRequired("Say which version you edited: send If-Match with its "
                                       "ETag, or `version` in the body.")
        session = self.db.session
        account = self._managed_account(account_id)
        rules.ensure_version(account.version, expected)
        before = {"roles": rules.normalised_roles(account.roles),
                  "partnership_id": account.partnership_id}
        after = dict(before)
        if "roles" in data:
            after["roles"] = rules.normalised_roles(data["roles"])
        if "partnership_id" in data:
            after["partnership_id"] = data["partnership_id"]
            self._ensure_partnership_exists(data["partnership_id"])
        domain.ensure_staff_account(after["roles"], after["partnership_id"],
                                    field="partnership_id")
        rules.ensure_not_self_demotion(caller.account_id, account.id, after["roles"])
        diff = rules.changes(before, after)
        if diff:
            account.roles, account.partnership_id = after["roles"], after["partnership_id"]
            account.version += 1
            repository.add_audit(session, account.id, caller.account_id, rules.CHANGED, diff)
            self._revoke_account(account.id, caller.account_id)
        result = _managed.dump(repository.managed_account_dict(account))
        session.commit()
        return result

    @rpc
    def suspend_account(self, account_id: str,
                        payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """The account cannot sign in any more and every token it holds is refused at once."""
        return self._change_status(account_id, payload, suspend=True)

    @rpc
    def reactivate_account(self, account_id: str,
                           payload: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._change_status(account_id, payload, suspend=False)

    def _change_status(self, account_id: str, payload: dict[str, Any] | None,
                       suspend: bool) -> dict[str, Any]:
        caller = self._administrator()
        data = load(_status_change, payload or {})
        session = self.db.session
        account = self._managed_account(account_id)
        rules.ensure_version(account.version, data.get("version"))
        active = rules.status_of(None, account.email_verified_at)
        if suspend:
            rules.ensure_may_suspend(caller.account_id, account.id, account.suspended_at)
            account.suspended_at, action, before, after = (
                utcnow(), rules.SUSPENDED_ACTION, active, rules.SUSPENDED)
        else:
            rules.ensure_may_reactivate(account.suspended_at)
            account.suspended_at, action, before, after = (
                None, rules.REACTIVATED, rules.SUSPENDED, active)
        account.version += 1
        repository.add_audit(session, account.id, caller.account_id, action,
                             {"status": {"from": before, "to": after},
                              **({"reason": data["reason"]} if data.get("reason") else {})})
        if suspend:
            self._revoke_account(account.id, caller.account_id)
        result = _managed.dump(repository.managed_account_dict(account))
        session.commit()
        return result

    # --- helpers ------------------------------------------------------------------------

    def _administrator(self) -> Caller:
        """Re-checked here, whatever the gateway did: only an administrator manages accounts."""
        caller = self.auth.caller
        rules.ensure_admin(caller.roles)
        return caller

    def _managed_account(self, account_id: str) -> Account:
        account = repository.account_for_update(self.db.session, account_id)
        if account is None:
            raise NotFound("No such account.")
        return account

    def _ensure_partnership_exists(self, partnership_id: str | None) -> None:
        if partnership_id is not None and self.db.session.get(Partnership, partnership_id) is None:
            raise ValidationFailed("No such partnership.",
                                   {"partnership_id": ["Unknown partnership."]})
