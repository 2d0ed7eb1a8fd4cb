"""HTTP gateway: the public API under /api/v1, its OpenAPI document and docs, health, metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import swagger_ui_bundle
from kombu import Connection
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Request, Response

from common.auth import TokenService
from common.config import SERVICES
from common.errors import AppError, NotFound
from common.rpc import Rpc
from common.storage import DOCUMENT_TYPES, ObjectStoreProvider, check_document
from gateway.http import api, json_response, problem_response
from gateway.openapi import openapi_document
from gateway.ratelimit import RateLimits
from gateway.requests import bearer_token, json_body, optional_json_body, query_args, upload_bytes
from services.registration import schemas as reg

V1 = "/api/v1"
STATIC = Path(__file__).parent / "static"
SWAGGER_FILES = {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                 "favicon-32x32.png", "favicon-16x16.png"}
REG_ERRORS = (401, 404)


class Tokens(DependencyProvider):
    def setup(self) -> None:
        self.tokens = TokenService(self.container.config["JWT"], generate=False)

    def get_dependency(self, worker_ctx: Any) -> TokenService:
        return self.tokens


def _paged(result: dict[str, Any]) -> Response:
    return json_response(result["items"], headers={
        "X-Total-Count": str(result["total"]),
        "X-Page": str(result["page"]),
        "X-Per-Page": str(result["per_page"]),
    })


def _with_etag(registration: dict[str, Any], status: int = 200,
               headers: dict[str, str] | None = None) -> Response:
    return json_response(registration, status, {**(headers or {}),
                                                "ETag": f'"{registration["version"]}"'})


def _if_match(request: Request) -> int | None:
    raw = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"')
    return int(raw) if raw.isdigit() else None


class GatewayService:
    name = "gateway"

    config = Config()
    rpc = Rpc()
    tokens = Tokens()
    limits = RateLimits()
    store = ObjectStoreProvider()

    def _call(self, request: Request, service: str, method: str, *args: Any) -> Any:
        token = bearer_token(request, self.tokens)
        return self.rpc.call(service, method, *args, auth_token=token)

    # --- operations ---------------------------------------------------------------

    @api("GET", "/health", "Health of the broker and every service", auth=False, tags=["ops"])
    def health(self, request: Request) -> Response:
        report: dict[str, Any] = {"broker": "ok", "services": {}}
        try:
            with Connection(self.config["AMQP_URI"], connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1)
        except Exception as exc:
            report["broker"] = f"unreachable: {exc.__class__.__name__}"
        for service in SERVICES:
            try:
                self.rpc.call(service, "health", timeout=2, confirm=True)
                report["services"][service] = "ok"
            except AppError as exc:
                report["services"][service] = exc.detail
            except Exception as exc:
                report["services"][service] = f"error: {exc.__class__.__name__}"
        healthy = report["broker"] == "ok" and all(v == "ok" for v in report["services"].values())
        report["status"] = "ok" if healthy else "degraded"
        return json_response(report, 200 if healthy else 503)

    @api("GET", "/metrics", "Prometheus metrics", auth=False, tags=["ops"],
         content="text/plain")
    def metrics(self, request: Request) -> Response:
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    @api("GET", f"{V1}/openapi.json", "This API's OpenAPI 3 document", auth=False, tags=["ops"])
    def openapi(self, request: Request) -> Response:
        return json_response(openapi_document())

    @api("GET", "/api/docs", "Interactive API documentation", auth=False, hidden=True)
    def docs(self, request: Request) -> Response:
        return Response((STATIC / "docs.html").read_bytes(), mimetype="text/html")

    @api("GET", "/api/docs/<string:filename>", "Documentation assets", auth=False, hidden=True)
    def docs_asset(self, request: Request, filename: str) -> Response:
        if filename == "init.js":
            path = STATIC / filename
        elif filename in SWAGGER_FILES:
            path = Path(swagger_ui_bundle.swagger_ui_path) / filename
        else:
            raise NotFound("No such file.")
        mimetype = {"css": "text/css", "js": "application/javascript", "png": "image/png"}[
            filename.rsplit(".", 1)[1]]
        return Response(path.read_bytes(), mimetype=mimetype,
                        headers={"Cache-Control": "public, max-age=86400"})

    # --- accounts ---------------------------------------------------------------------

    @api("POST", f"{V1}/accounts", "Sign up as a participant", auth=False, tags=["accounts"],
         body=reg.CreateAccountSchema, response=reg.AccountSchema, status=201,
         errors=(400, 409, 422, 429))
    def create_account(self, request: Request) -> Response:
        self.limits.check("signup", request.remote_addr or "?")
        account = self.rpc.call("registration", "create_account", json_body(request))
        return json_response(account, 201, {"Location": f"{V1}/me"})

    @api("POST", f"{V1}/auth/token", "Sign in: exchange email and password for a token",
         auth=False, tags=["accounts"], body=reg.TokenRequestSchema, response=reg.TokenSchema,
         errors=(400, 401, 422, 429))
    def create_token(self, request: Request) -> Response:
        self.limits.check("login", request.remote_addr or "?")
        token = self.rpc.call("registration", "create_token", json_body(request))
        return json_response(token, headers={"Cache-Control": "no-store"})

    @api("GET", f"{V1}/me", "The signed-in account", tags=["accounts"],
         response=reg.AccountSchema, errors=(401,))
    def me(self, request: Request) -> Response:
        return json_response(self._call(request, "registration", "get_me"))

    # --- partnerships and reference data ------------------------------------------------

    @api("GET", f"{V1}/partnerships", "ESCP-4x cluster partnerships", auth=False,
         tags=["partnerships"], response=reg.PartnershipSchema, many=True)
    def list_partnerships(self, request: Request) -> Response:
        return json_response(self.rpc.call("registration", "list_partnerships"))

    @api("GET", f"{V1}/partnerships/<string:partnership_id>", "One partnership", auth=False,
         tags=["partnerships"], response=reg.PartnershipSchema, errors=(404,))
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
        return _paged(self._call(request, "registration", "list_registrations", query_args(request)))

    @api("POST", f"{V1}/registrations", "Start a registration (a draft)", tags=["registrations"],
         body=reg.CreateRegistrationSchema, response=reg.RegistrationSchema, status=201,
         errors=(400, 401, 403, 404, 409, 422))
    def create_registration(self, request: Request) -> Response:
        created = self._call(request, "registration", "create_registration", json_body(request))
        return _with_etag(created, 201, {"Location": f"{V1}/registrations/{created['id']}"})

    @api("GET", f"{V1}/registrations/<string:registration_id>", "One registration",
         tags=["registrations"], response=reg.RegistrationSchema, errors=REG_ERRORS)
    def get_registration(self, request: Request, registration_id: str) -> Response:
        return _with_etag(self._call(request, "registration", "get_registration", registration_id))

    @api("PATCH", f"{V1}/registrations/<string:registration_id>",
         "Edit a registration (send `version` or If-Match)", tags=["registrations"],
         body=reg.UpdateRegistrationSchema, response=reg.RegistrationSchema,
         errors=(400, 401, 403, 404, 409, 422))
    def update_registration(self, request: Request, registration_id: str) -> Response:
        body = json_body(request)
        if isinstance(body, dict) and "version" not in body and _if_match(request) is not None:
            body["version"] = _if_match(request)
        return _with_etag(self._call(request, "registration", "update_registration",
                                     registration_id, body))

    @api("GET", f"{V1}/registrations/<string:registration_id>/eligibility",
         "Each eligibility rule and whether the registration meets it", tags=["registrations"],
         response=reg.EligibilitySchema, errors=REG_ERRORS)
    def eligibility(self, request: Request, registration_id: str) -> Response:
        return json_response(self._call(request, "registration", "check_eligibility",
                                        registration_id))

    @api("POST", f"{V1}/registrations/<string:registration_id>/submit",
         "Submit for assessment by the chosen partnership", tags=["registrations"],
         response=reg.RegistrationSchema, errors=(401, 403, 404, 409, 422))
    def submit_registration(self, request: Request, registration_id: str) -> Response:
        return _with_etag(self._call(request, "registration", "submit_registration",
                                     registration_id, _if_match(request)))

    @api("POST", f"{V1}/registrations/<string:registration_id>/assessment",
         "Accept, reject or ask for changes (the partnership's contact point)",
         tags=["registrations"], body=reg.AssessmentSchema, response=reg.RegistrationSchema,
         errors=(400, 401, 403, 404, 409, 422))
    def assess_registration(self, request: Request, registration_id: str) -> Response:
        body = json_body(request)
        if isinstance(body, dict) and _if_match(request) is not None:
            body["version"] = _if_match(request)
        return _with_etag(self._call(request, "registration", "assess_registration",
                                     registration_id, body))

    @api("POST", f"{V1}/registrations/<string:registration_id>/withdraw", "Withdraw",
         tags=["registrations"], response=reg.RegistrationSchema, errors=(401, 403, 404, 409))
    def withdraw_registration(self, request: Request, registration_id: str) -> Response:
        optional_json_body(request)
        return _with_etag(self._call(request, "registration", "withdraw_registration",
                                     registration_id))

    @api("PUT", f"{V1}/registrations/<string:registration_id>/cv",
         "Upload the CV (PDF or DOCX, at most 5 MB; raw body or multipart field `file`)",
         tags=["registrations"], response=reg.RegistrationSchema,
         body_content="application/pdf", errors=(401, 403, 404, 409, 413, 415))
    def upload_cv(self, request: Request, registration_id: str) -> Response:
        token = bearer_token(request, self.tokens)
        max_bytes = self.config["UPLOADS"]["cv_max_bytes"]
        data, filename = upload_bytes(request, max_bytes)
        content_type = check_document(data, DOCUMENT_TYPES, max_bytes)
        stored = self.store.put(f"cv/{registration_id}", data, content_type)
        try:
            result = self.rpc.call("registration", "attach_cv", registration_id, stored.key,
                                   filename, auth_token=token)
        except Exception:
            self.store.delete(stored.key)
            raise
        return _with_etag(result)

    @api("GET", f"{V1}/registrations/<string:registration_id>/cv", "Download the CV",
         tags=["registrations"], content="application/octet-stream", errors=REG_ERRORS)
    def download_cv(self, request: Request, registration_id: str) -> Response:
        cv = self._call(request, "registration", "get_cv", registration_id)
        data = self.store.get(cv["key"])
        filename = (cv.get("filename") or "cv").replace('"', "")
        return Response(data, mimetype=cv["content_type"], headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-SHA256": cv["sha256"], "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff"})


__all__ = ["GatewayService", "problem_response"]
