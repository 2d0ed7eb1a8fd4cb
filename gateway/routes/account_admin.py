"""Administrators' management of accounts: list, read, invite, change roles, suspend and
reactivate, and each account's audit trail. Registration checks the role again."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from common.schemas import PageQuerySchema
from gateway.http import api
from gateway.requests import json_body, optional_json_body, query_args
from gateway.routes.base import V1, Routes, paged, versioned, with_etag
from services.registration import schemas as reg

ACCOUNTS = f"{V1}/accounts"
ACCOUNT = f"{ACCOUNTS}/<string:account_id>"
_ACCOUNT_ID = {"account_id": "$response.body#/id"}
ACCOUNT_LINKS = {
    "GetAccount": {"operationId": "get_api_v1_accounts_by_account_id",
                   "parameters": _ACCOUNT_ID},
    "UpdateAccount": {"operationId": "patch_api_v1_accounts_by_account_id",
                      "parameters": _ACCOUNT_ID},
    "AccountAudit": {"operationId": "get_api_v1_accounts_by_account_id_audit",
                     "parameters": _ACCOUNT_ID},
    "SuspendAccount": {"operationId": "post_api_v1_accounts_by_account_id_suspend",
                       "parameters": _ACCOUNT_ID},
    "ReactivateAccount": {"operationId": "post_api_v1_accounts_by_account_id_reactivate",
                          "parameters": _ACCOUNT_ID},
}


class AccountAdminRoutes(Routes):
    @api("GET", ACCOUNTS, "Accounts, newest first, filtered by role, partnership, status or "
         "text (administrators)", tags=["administration"], query=reg.AccountListQuerySchema,
         response=reg.ManagedAccountSchema, many=True, errors=(401, 403, 422))
    def list_accounts(self, request: Request) -> Response:
        return paged(self._call(request, "registration", "list_accounts", query_args(request)),
                     request)

    @api("POST", f"{ACCOUNTS}/invitations",
         "Invite a staff member (contact point, support agent, administrator): the account is "
         "made without a password and the invitee is emailed a single-use link to choose one",
         tags=["administration"], body=reg.InviteAccountSchema,
         response=reg.ManagedAccountSchema, status=201, errors=(401, 403, 409, 422),
         links=ACCOUNT_LINKS, location=True, idempotent=True)
    def invite_account(self, request: Request) -> Response:
        created = self._call(request, "registration", "invite_account", json_body(request))
        return with_etag(created, 201, {"Location": f"{ACCOUNTS}/{created['id']}"})

    @api("GET", ACCOUNT, "One account: roles, partnership, status, sign-in and version "
         "(administrators)", tags=["administration"], response=reg.ManagedAccountSchema,
         errors=(401, 403, 404), links=ACCOUNT_LINKS)
    def get_account(self, request: Request, account_id: str) -> Response:
        return with_etag(self._call(request, "registration", "get_account", account_id))

    @api("PATCH", ACCOUNT,
         "Change an account's roles or partnership: a JSON merge patch; send `version` or "
         "If-Match. The account is signed out everywhere (its tokens carry its roles)",
         tags=["administration"], body=reg.UpdateAccountSchema,
         body_content="application/merge-patch+json", response=reg.ManagedAccountSchema,
         errors=(401, 403, 404, 409, 422, 428))
    def update_account(self, request: Request, account_id: str) -> Response:
        body = versioned(request, json_body(request))
        return with_etag(self._call(request, "registration", "update_account", account_id, body))

    @api("POST", f"{ACCOUNT}/suspend",
         "Suspend an account: it cannot sign in, and every token it holds is refused at once",
         tags=["administration"], body=reg.AccountStatusChangeSchema,
         response=reg.ManagedAccountSchema, errors=(401, 403, 404, 409, 422))
    def suspend_account(self, request: Request, account_id: str) -> Response:
        return with_etag(self._call(request, "registration", "suspend_account", account_id,
                                    _status_body(request)))

    @api("POST", f"{ACCOUNT}/reactivate", "Reactivate a suspended account",
         tags=["administration"], body=reg.AccountStatusChangeSchema,
         response=reg.ManagedAccountSchema, errors=(401, 403, 404, 409, 422))
    def reactivate_account(self, request: Request, account_id: str) -> Response:
        return with_etag(self._call(request, "registration", "reactivate_account", account_id,
                                    _status_body(request)))

    @api("GET", f"{ACCOUNT}/audit", "What administrators changed on an account, newest first",
         tags=["administration"], query=PageQuerySchema, response=reg.AccountAuditEntrySchema,
         many=True, errors=(401, 403, 404, 422))
    def list_account_audit(self, request: Request, account_id: str) -> Response:
        return paged(self._call(request, "registration", "list_account_audit", account_id,
                                query_args(request)), request)


def _status_body(request: Request) -> Any:
    """The optional body, with `version` taken from If-Match when the body does not say it."""
    return versioned(request, optional_json_body(request))
