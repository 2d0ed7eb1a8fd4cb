"""Accounts, partnerships, reference data and registrations."""

from __future__ import annotations

import logging

from werkzeug.wrappers import Request, Response

from common.errors import AppError
from common.schemas import PageQuerySchema, load, page_of
from common.storage import DOCUMENT_TYPES, DOCX, PDF, check_document
from gateway.http import api, json_response
from gateway.requests import json_body, optional_json_body, query_args, upload_bytes
from gateway.routes.base import (
    V1,
    Routes,
    caller_token,
    content_disposition,
    if_match,
    paged,
    versioned,
    with_etag,
)
from services.registration import schemas as reg

log = logging.getLogger(__name__)

_page_query = PageQuerySchema()
REG_ERRORS = (401, 404)
REGISTRATION = f"{V1}/registrations/<string:registration_id>"
# Where a registration leads, for clients (and stateful fuzzers) walking the API.
_REG_ID = {"registration_id": "$response.body#/id"}
REGISTRATION_LINKS = {
    "GetRegistration": {"operationId": "get_api_v1_registrations_by_registration_id",
                        "parameters": _REG_ID},
    "UpdateRegistration": {"operationId": "patch_api_v1_registrations_by_registration_id",
                           "parameters": _REG_ID},
    "CheckEligibility": {"operationId": "get_api_v1_registrations_by_registration_id_eligibility",
                         "parameters": _REG_ID},
    "SubmitRegistration": {"operationId": "post_api_v1_registrations_by_registration_id_submit",
                           "parameters": _REG_ID},
    "UploadCv": {"operationId": "put_api_v1_registrations_by_registration_id_cv",
                 "parameters": _REG_ID},
    "DownloadCv": {"operationId": "get_api_v1_registrations_by_registration_id_cv",
                   "parameters": _REG_ID},
    "GetMatches": {"operationId": "get_api_v1_matches",
                   "parameters": {"registration_id": "$response.body#/id"}},
}


class RegistrationRoutes(Routes):
    # --- accounts ---------------------------------------------------------------------

    @api("POST", f"{V1}/accounts",
         "Sign up as a participant: always 202 and the same body, and an email to the address "
         "(a verification link for a new account; a note to the owner of a known one)",
         auth=False, tags=["accounts"], body=reg.CreateAccountSchema, response=reg.SignUpSchema,
         status=202, errors=(422, 429), idempotent=True)
    def create_account(self, request: Request) -> Response:
        self.limits.check("signup", self.limits.client(request))
        answer = self._call(request, "registration", "create_account", json_body(request),
                            auth=False)
        return json_response(answer, 202, {"Cache-Control": "no-store"})

    @api("POST", f"{V1}/auth/token", "Sign in: exchange email and password for a token",
         auth=False, tags=["accounts"], body=reg.TokenRequestSchema, response=reg.TokenSchema,
         errors=(401, 422, 429))
    def create_token(self, request: Request) -> Response:
        self.limits.check("login", self.limits.client(request))
        token = self.rpc.call("registration", "create_token", json_body(request))
        return json_response(token, headers={"Cache-Control": "no-store"})

    @api("GET", f"{V1}/me", "The signed-in account", tags=["accounts"],
         response=reg.AccountSchema, errors=(401,))
    def me(self, request: Request) -> Response:
        return json_response(self._call(request, "registration", "get_me"))

    # --- partnerships and reference data ------------------------------------------------

    @api("GET", f"{V1}/partnerships", "ESCP-4x cluster partnerships", auth=False,
         tags=["partnerships"], query=PageQuerySchema, response=reg.PartnershipSchema, many=True)
    def list_partnerships(self, request: Request) -> Response:
        # Reference data, a few dozen rows: paged here like every other list.
        query = load(_page_query, query_args(request))
        everything = self.rpc.call("registration", "list_partnerships")
        start = (query["page"] - 1) * query["per_page"]
        return paged(page_of(everything[start:start + query["per_page"]], len(everything),
                             query["page"], query["per_page"]), request)

    @api("GET", f"{V1}/partnerships/<string:partnership_id>", "One partnership, by id or code",
         auth=False, tags=["partnerships"], response=reg.PartnershipSchema, errors=(404,))
    def get_partnership(self, request: Request, partnership_id: str) -> Response:
        return json_response(self.rpc.call("registration", "get_partnership", partnership_id))

    @api("GET", f"{V1}/reference", "Reference data: countries, sectors, objectives, activity types",
         auth=False, tags=["partnerships"], response=reg.ReferenceDataSchema)
    def reference(self, request: Request) -> Response:
        return json_response(self.rpc.call("registration", "get_reference_data"),
                             headers={"Cache-Control": "public, max-age=300"})

    # --- registrations ----------------------------------------------------------------

    @api("GET", f"{V1}/registrations", "Registrations the caller may see", tags=["registrations"],
         query=reg.RegistrationListQuerySchema, response=reg.RegistrationSchema, many=True,
         errors=(401, 403, 422))
    def list_registrations(self, request: Request) -> Response:
        return paged(self._call(request, "registration", "list_registrations", query_args(request)),
                     request)

    @api("POST", f"{V1}/registrations", "Start a registration (a draft)", tags=["registrations"],
         body=reg.CreateRegistrationSchema, response=reg.RegistrationSchema, status=201,
         errors=(401, 403, 404, 409, 422), links=REGISTRATION_LINKS, location=True,
         idempotent=True)
    def create_registration(self, request: Request) -> Response:
        created = self._call(request, "registration", "create_registration", json_body(request))
        return with_etag(created, 201, {"Location": f"{V1}/registrations/{created['id']}"})

    @api("GET", REGISTRATION, "One registration",
         tags=["registrations"], response=reg.RegistrationSchema, errors=REG_ERRORS,
         links=REGISTRATION_LINKS)
    def get_registration(self, request: Request, registration_id: str) -> Response:
        return with_etag(self._call(request, "registration", "get_registration", registration_id))

    @api("PATCH", REGISTRATION,
         "Edit a registration: a JSON merge patch (RFC 7396); send `version` or If-Match",
         tags=["registrations"], body=reg.UpdateRegistrationSchema,
         body_content="application/merge-patch+json", response=reg.RegistrationSchema,
         errors=(401, 403, 404, 409, 422, 428))
    def update_registration(self, request: Request, registration_id: str) -> Response:
        body = versioned(request, json_body(request))
        return with_etag(self._call(request, "registration", "update_registration",
                                     registration_id, body))

    @api("GET", f"{V1}/registrations/<string:registration_id>/eligibility",
         "Each eligibility rule and whether the registration meets it", tags=["registrations"],
         response=reg.EligibilitySchema, errors=REG_ERRORS)
    def eligibility(self, request: Request, registration_id: str) -> Response:
        return json_response(self._call(request, "registration", "check_eligibility",
                                        registration_id))

    @api("POST", f"{V1}/eligibility-check", "Check the rules about who may take part, without "
         "an account (nothing is stored)", auth=False, tags=["registrations"],
         body=reg.EligibilityPreviewSchema, response=reg.EligibilitySchema, errors=(422,))
    def preview_eligibility(self, request: Request) -> Response:
        return json_response(self.rpc.call("registration", "preview_eligibility",
                                           json_body(request)))

    @api("POST", f"{V1}/registrations/<string:registration_id>/submit",
         "Submit for assessment by the chosen partnership", tags=["registrations"],
         response=reg.RegistrationSchema, errors=(401, 403, 404, 409, 422))
    def submit_registration(self, request: Request, registration_id: str) -> Response:
        return with_etag(self._call(request, "registration", "submit_registration",
                                     registration_id, if_match(request)))

    @api("POST", f"{V1}/registrations/<string:registration_id>/assessment",
         "Accept, reject or ask for changes (the partnership's contact point)",
         tags=["registrations"], body=reg.AssessmentSchema, response=reg.RegistrationSchema,
         errors=(401, 403, 404, 409, 422))
    def assess_registration(self, request: Request, registration_id: str) -> Response:
        body = json_body(request)
        if isinstance(body, dict) and if_match(request) is not None:
            body["version"] = if_match(request)
        return with_etag(self._call(request, "registration", "assess_registration",
                                     registration_id, body))

    @api("POST", f"{V1}/registrations/<string:registration_id>/withdraw", "Withdraw",
         tags=["registrations"], response=reg.RegistrationSchema, errors=(401, 403, 404, 409))
    def withdraw_registration(self, request: Request, registration_id: str) -> Response:
        optional_json_body(request)
        return with_etag(self._call(request, "registration", "withdraw_registration",
                                     registration_id))

    @api("PUT", f"{V1}/registrations/<string:registration_id>/cv",
         "Upload the CV (PDF or DOCX, at most CV_MAX_BYTES, 5 MB by default; raw body or "
         "multipart field `file`)",
         tags=["registrations"], response=reg.RegistrationSchema,
         body_content="application/pdf", errors=(400, 401, 403, 404, 409, 413, 415))
    def upload_cv(self, request: Request, registration_id: str) -> Response:
        return with_etag(self._store_cv(request, registration_id))

    def _store_cv(self, request: Request, registration_id: str) -> dict:
        """The upload (raw body or multipart `file`) stored and attached; the web
        application's CV step uses it too."""
        token = caller_token(request, self.tokens)
        # Refused callers are refused before anything is read or stored.
        self.rpc.call("registration", "check_cv_upload", registration_id, auth_token=token)
        max_bytes = self.config["UPLOADS"]["cv_max_bytes"]
        data, filename = upload_bytes(request, max_bytes)
        content_type = check_document(data, DOCUMENT_TYPES, max_bytes)
        stored = self.store.put(f"cv/{registration_id}", data, content_type)
        try:
            result = self.rpc.call("registration", "attach_cv", registration_id, stored.key,
                                   filename, auth_token=token)
        except AppError as exc:
            # Only a refusal proves nothing points at the object; after a timeout or an
            # outage registration may have committed it, so it stays (an orphan at worst).
            if 400 <= exc.status < 500:
                self.store.delete(stored.key)
            else:
                log.warning("kept CV object %s: attach_cv ended with %s", stored.key,
                            exc.__class__.__name__)
            raise
        return result

    @api("GET", f"{V1}/registrations/<string:registration_id>/cv", "Download the CV",
         tags=["registrations"], content=(PDF, DOCX), errors=REG_ERRORS)
    def download_cv(self, request: Request, registration_id: str) -> Response:
        cv = self._call(request, "registration", "get_cv", registration_id)
        data = self.store.get(cv["key"])
        return Response(data, mimetype=cv["content_type"], headers={
            "Content-Disposition": content_disposition(cv.get("filename") or "cv"),
            "X-Content-SHA256": cv["sha256"], "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff"})
