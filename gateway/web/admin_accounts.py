"""Administrators' pages for accounts: the list with its filters and pages, one account
(roles, partnership, status, audit trail) with its forms, and the invitation of staff. The
same RPCs as gateway/routes/account_admin.py; registration refuses everyone else (403)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from common.errors import AppError
from gateway.web.forms import flatten_errors
from gateway.web.i18n import N_
from gateway.web.pages import WebRoutes, page, see_other
from gateway.web.session import WebRequest

ADMIN_ACCOUNTS = "/admin/accounts"
FORM_ERRORS = (400, 403, 409, 422, 428)
FILTERS = ("q", "role", "status", "partnership_id")
PER_PAGE = 25
ROLES = (("participant", N_("Participant")), ("partnership_contact", N_("Partnership contact point")),
         ("support_agent", N_("Support agent")), ("admin", N_("Administrator")))
INVITABLE = ROLES[1:]
STATUSES = (("active", N_("Active")), ("unverified", N_("Not verified yet")),
            ("suspended", N_("Suspended")))
ACTIONS = {"invited": N_("Invited"), "created": N_("Created"), "changed": N_("Roles changed"),
           "suspended": N_("Suspended"), "reactivated": N_("Reactivated")}
CONTEXT = {"role_choices": ROLES, "invitable_roles": INVITABLE, "status_choices": STATUSES,
           "role_labels": dict(ROLES), "status_labels": dict(STATUSES), "audit_actions": ACTIONS,
           "section": "admin"}


class AdminAccountPages(WebRoutes):
    @page("GET", ADMIN_ACCOUNTS)
    def page_admin_accounts(self, web: WebRequest) -> Response:
        args = web.request.args
        filters = {name: args.get(name, "").strip() for name in FILTERS if args.get(name, "").strip()}
        current = args.get("page", "1")
        query = {**filters, "page": current if current.isdigit() else "1",
                 "per_page": str(PER_PAGE)}
        errors: dict[str, list[str]] = {}
        try:
            found = self._web(web, "registration", "list_accounts", query)
        except AppError as exc:
            if exc.status != 422:
                raise
            errors = flatten_errors(exc.errors)
            found = {"items": [], "total": 0, "page": 1, "per_page": PER_PAGE}
        last = max(1, -(-found["total"] // PER_PAGE))
        return self._page(web, "admin_accounts.html", title=N_("Accounts"), filters=filters,
                          accounts=found["items"], total=found["total"], page=found["page"],
                          last=last, errors=errors, partnership_options=self._partnership_options(web),
                          page_url=lambda number: f"{ADMIN_ACCOUNTS}?" + urlencode(
                              {**filters, "page": number}), **CONTEXT)

    # --- invitation ---------------------------------------------------------------------

    @page("GET", f"{ADMIN_ACCOUNTS}/invite")
    def page_admin_invite(self, web: WebRequest) -> Response:
        # Asked now, so that someone who may not invite learns it before filling the form.
        self._web(web, "registration", "list_accounts", {"per_page": "1"})
        return self._invite_form(web, {}, "", {})

    @page("POST", f"{ADMIN_ACCOUNTS}/invite")
    def page_admin_send_invite(self, web: WebRequest) -> Response:
        form = web.form
        body = {"email": (form.get("email") or "").strip(),
                "full_name": (form.get("full_name") or "").strip(),
                "roles": [role for role in form.getlist("roles") if role],
                "partnership_id": form.get("partnership_id") or None,
                "language": web.locale}
        try:
            created = self._web(web, "registration", "invite_account", body, idempotent=True)
        except AppError as exc:
            if exc.status not in FORM_ERRORS:
                raise
            return self._invite_form(web, flatten_errors(exc.errors), exc.detail, body,
                                     exc.status)
        web.say(N_("The invitation is on its way: the invitee chooses a password with the "
                   "link we emailed."))
        return see_other(f"{ADMIN_ACCOUNTS}/{created['id']}")

    def _invite_form(self, web: WebRequest, errors: dict, detail: str, values: dict[str, Any],
                     status: int = 200) -> Response:
        return self._page(web, "admin_accounts_invite.html", status=status,
                          title=N_("Invite a staff member"), errors=errors, detail=detail,
                          values=values, partnership_options=self._partnership_options(web), **CONTEXT)

    # --- one account ----------------------------------------------------------------------

    @page("GET", f"{ADMIN_ACCOUNTS}/<string:account_id>")
    def page_admin_account(self, web: WebRequest, account_id: str) -> Response:
        return self._account_page(web, account_id, {}, "")

    @page("POST", f"{ADMIN_ACCOUNTS}/<string:account_id>/roles")
    def page_admin_change_roles(self, web: WebRequest, account_id: str) -> Response:
        body = {"roles": [role for role in web.form.getlist("roles") if role],
                "partnership_id": web.form.get("partnership_id") or None,
                **_version(web)}
        try:
            self._web(web, "registration", "update_account", account_id, body)
        except AppError as exc:
            if exc.status not in FORM_ERRORS:
                raise
            return self._account_page(web, account_id, flatten_errors(exc.errors), exc.detail,
                                      exc.status, values=body)
        web.say(N_("The roles are saved; the account was signed out everywhere."))
        return see_other(f"{ADMIN_ACCOUNTS}/{account_id}")

    @page("POST", f"{ADMIN_ACCOUNTS}/<string:account_id>/suspend")
    def page_admin_suspend(self, web: WebRequest, account_id: str) -> Response:
        return self._status_change(web, account_id, "suspend_account",
                                   N_("The account is suspended and signed out everywhere."))

    @page("POST", f"{ADMIN_ACCOUNTS}/<string:account_id>/reactivate")
    def page_admin_reactivate(self, web: WebRequest, account_id: str) -> Response:
        return self._status_change(web, account_id, "reactivate_account",
                                   N_("The account is active again."))

    def _status_change(self, web: WebRequest, account_id: str, method: str,
                       done: str) -> Response:
        body = {**_version(web), "reason": (web.form.get("reason") or "").strip() or None}
        try:
            self._web(web, "registration", method, account_id, body)
        except AppError as exc:
            if exc.status not in FORM_ERRORS:
                raise
            return self._account_page(web, account_id, flatten_errors(exc.errors), exc.detail,
                                      exc.status)
        web.say(done)
        return see_other(f"{ADMIN_ACCOUNTS}/{account_id}")

    def _account_page(self, web: WebRequest, account_id: str, errors: dict, detail: str,
                      status: int = 200, values: dict[str, Any] | None = None) -> Response:
        account = self._web(web, "registration", "get_account", account_id)
        audit = self._web(web, "registration", "list_account_audit", account_id,
                          {"per_page": "50"})
        options = self._partnership_options(web)
        return self._page(web, "admin_account.html", status=status, title=N_("Account"),
                          account=account, audit=audit["items"], audit_total=audit["total"],
                          errors=errors, detail=detail, values=values or account,
                          partnership_options=options, partnership_names=dict(options),
                          is_self=bool(web.account and web.account.get("id") == account_id),
                          **CONTEXT)

    def _partnership_options(self, web: WebRequest) -> list[tuple[str, str]]:
        return [(p["id"], f'{p["name"]} ({p["code"]})') for p in self._partnerships(web)]


def _version(web: WebRequest) -> dict[str, int]:
    version = web.form.get("version", "")
    return {"version": int(version)} if version.isdigit() else {}
