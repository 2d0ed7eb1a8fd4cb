"""Account emails (verification, password reset), signing out, and back-offices' API keys."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from common.schemas import PageQuerySchema
from gateway.http import api, json_response
from gateway.requests import json_body, optional_json_body, query_args
from gateway.routes.base import V1, Routes, paged
from services.registration import schemas as reg

ACCOUNT = f"{V1}/account"
NO_STORE = {"Cache-Control": "no-store"}


class AccountRoutes(Routes):
    # --- email verification ------------------------------------------------------------

    @api("POST", f"{ACCOUNT}/verify", "Verify the email address with the link's token (once)",
         auth=False, tags=["accounts"], body=reg.VerifyEmailSchema, response=reg.AcceptedSchema,
         errors=(422, 429))
    def verify_email(self, request: Request) -> Response:
        self.limits.check("account_email", self.limits.client(request))
        return json_response(self.rpc.call("registration", "verify_email", json_body(request)),
                             headers=NO_STORE)

    @api("POST", f"{ACCOUNT}/verify/resend", "Send a new verification email (once a minute)",
         tags=["accounts"], response=reg.AcceptedSchema, status=202, errors=(409, 429))
    def resend_verification(self, request: Request) -> Response:
        self.limits.check("account_email", self.limits.client(request))
        optional_json_body(request)
        return json_response(self._call(request, "registration", "resend_verification"), 202)

    # --- password reset ----------------------------------------------------------------

    @api("POST", f"{ACCOUNT}/password-reset",
         "Ask for a password reset link: always 202, whether the address is registered or not",
         auth=False, tags=["accounts"], body=reg.PasswordResetRequestSchema,
         response=reg.AcceptedSchema, status=202, errors=(422, 429))
    def request_password_reset(self, request: Request) -> Response:
        self.limits.check("account_email", self.limits.client(request))
        return json_response(self.rpc.call("registration", "request_password_reset",
                                           json_body(request)), 202, NO_STORE)

    @api("POST", f"{ACCOUNT}/password-reset/confirm",
         "Set a new password with the link's token (once, before it expires); signs out "
         "every session", auth=False, tags=["accounts"], body=reg.PasswordResetConfirmSchema,
         response=reg.AcceptedSchema, errors=(422, 429))
    def confirm_password_reset(self, request: Request) -> Response:
        self.limits.check("account_email", self.limits.client(request))
        return json_response(self.rpc.call("registration", "confirm_password_reset",
                                           json_body(request)), headers=NO_STORE)

    # --- sessions ----------------------------------------------------------------------

    @api("POST", f"{ACCOUNT}/sign-out", "Sign out: this token stops working everywhere",
         tags=["accounts"], status=204, errors=(403,))
    def sign_out(self, request: Request) -> Response:
        optional_json_body(request)
        self._call(request, "registration", "sign_out")
        return Response(status=204)

    @api("POST", f"{ACCOUNT}/sign-out-everywhere",
         "Sign out every session of the account (every token issued until now)",
         tags=["accounts"], status=204, errors=(403,))
    def sign_out_everywhere(self, request: Request) -> Response:
        optional_json_body(request)
        self._call(request, "registration", "sign_out_everywhere")
        return Response(status=204)

    # --- API keys ----------------------------------------------------------------------

    @api("POST", f"{V1}/api-keys",
         "Create an API key for the partnership's back-office (its contact point); the key is "
         "in this answer only", tags=["api-keys"], body=reg.CreateApiKeySchema,
         response=reg.CreatedApiKeySchema, status=201, errors=(403, 409))
    def create_api_key(self, request: Request) -> Response:
        created = self._call(request, "registration", "create_api_key", json_body(request))
        return json_response(created, 201, NO_STORE)

    @api("GET", f"{V1}/api-keys", "The partnership's API keys (never the keys themselves)",
         tags=["api-keys"], query=PageQuerySchema, response=reg.ApiKeySchema, many=True,
         errors=(403,))
    def list_api_keys(self, request: Request) -> Response:
        return paged(self._call(request, "registration", "list_api_keys", query_args(request)),
                     request)

    @api("DELETE", f"{V1}/api-keys/<string:key_id>",
         "Revoke an API key: refused within seconds everywhere", tags=["api-keys"], status=204,
         errors=(403,))
    def revoke_api_key(self, request: Request, key_id: str) -> Response:
        self._call(request, "registration", "revoke_api_key", key_id)
        return Response(status=204)
