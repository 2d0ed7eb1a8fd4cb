"""Error types that cross RPC unchanged and map onto RFC 9457 problem responses.

nameko re-raises a remote exception as the same class when the class is registered with
`deserialize_to_instance`; its positional args travel as JSON, so every error keeps its
whole state in `args` (detail, field errors).
"""

from __future__ import annotations

from typing import Any

from nameko.exceptions import deserialize_to_instance

PROBLEMS_PATH = "/problems"


class AppError(Exception):
    status = 500
    title = "Internal error"
    type_slug = "internal"
    # One sentence for the problem's human page at /problems/<type_slug>.
    explanation = "Something went wrong on our side; try again later."

    def __init__(self, detail: str = "", errors: dict[str, Any] | None = None) -> None:
        super().__init__(detail, errors or {})
        self.detail = detail or self.title
        self.errors = errors or {}

    def __str__(self) -> str:
        return self.detail

    def to_problem(self) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": f"{PROBLEMS_PATH}/{self.type_slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            problem["errors"] = self.errors
        return problem


def _register(cls: type[AppError]) -> type[AppError]:
    return deserialize_to_instance(cls)


def problem_types() -> dict[str, type[AppError]]:
    """Every error class by its slug: the problem types this API can answer with."""
    found: dict[str, type[AppError]] = {AppError.type_slug: AppError}
    pending = [AppError]
    while pending:
        for sub in pending.pop().__subclasses__():
            found.setdefault(sub.type_slug, sub)
            pending.append(sub)
    return found


@_register
class BadRequest(AppError):
    status, title, type_slug = 400, "Bad request", "bad-request"
    explanation = "The request could not be read: malformed JSON, nested too deeply, or a missing part."


@_register
class Unauthorized(AppError):
    status, title, type_slug = 401, "Unauthorized", "unauthorized"
    explanation = ("Send a valid bearer token (Authorization: Bearer <token>); get one from "
                   "POST /api/v1/auth/token.")


@_register
class NotAllowed(AppError):
    status, title, type_slug = 403, "Forbidden", "forbidden"
    explanation = "Your role or account may not do this."


@_register
class NotFound(AppError):
    status, title, type_slug = 404, "Not found", "not-found"
    explanation = "There is no such resource, or it is not yours to see."


@_register
class Conflict(AppError):
    status, title, type_slug = 409, "Conflict", "conflict"
    explanation = "The request conflicts with the resource's current state."


@_register
class InvalidState(Conflict):
    title, type_slug = "Invalid state", "invalid-state"
    explanation = "The resource is in a state that does not allow this step."


@_register
class StaleVersion(Conflict):
    title, type_slug = "Stale version", "stale-version"
    explanation = "Someone changed the resource after you read it; reload it and apply your change again."


@_register
class PayloadTooLarge(AppError):
    status, title, type_slug = 413, "Payload too large", "too-large"
    explanation = "The body or file is larger than this operation accepts."


@_register
class UnsupportedMediaType(AppError):
    status, title, type_slug = 415, "Unsupported media type", "unsupported-media-type"
    explanation = "The body's media type, or a file's sniffed content, is not one this operation accepts."


@_register
class PreconditionRequired(AppError):
    status, title, type_slug = 428, "Precondition required", "precondition-required"
    explanation = ("Say which version you edited: send If-Match with the ETag you read, or "
                   "`version` in the body.")


@_register
class ValidationFailed(AppError):
    status, title, type_slug = 422, "Validation failed", "validation-failed"
    explanation = "Some fields are not valid; `errors` names each one with its messages."


@_register
class TooManyRequests(AppError):
    status, title, type_slug = 429, "Too many requests", "too-many-requests"
    explanation = "Too many requests from your address; wait for the time in Retry-After."


@_register
class ServiceUnavailable(AppError):
    status, title, type_slug = 503, "Service unavailable", "service-unavailable"
    explanation = "A service behind the API is not available right now; retry after Retry-After."


@_register
class GatewayTimeout(AppError):
    status, title, type_slug = 504, "Upstream timeout", "upstream-timeout"
    explanation = "A service behind the API did not answer in time; retry the request."
