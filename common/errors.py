"""Error types that cross RPC unchanged and map onto RFC 9457 problem responses.

nameko re-raises a remote exception as the same class when the class is registered with
`deserialize_to_instance`; its positional args travel as JSON, so every error keeps its
whole state in `args` (detail, field errors).
"""

from __future__ import annotations

from typing import Any

from nameko.exceptions import deserialize_to_instance


class AppError(Exception):
    status = 500
    title = "Internal error"
    type_slug = "internal"

    def __init__(self, detail: str = "", errors: dict[str, Any] | None = None) -> None:
        super().__init__(detail, errors or {})
        self.detail = detail or self.title
        self.errors = errors or {}

    def __str__(self) -> str:
        return self.detail

    def to_problem(self) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": f"https://clusterxchange.eu/problems/{self.type_slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            problem["errors"] = self.errors
        return problem


def _register(cls: type[AppError]) -> type[AppError]:
    return deserialize_to_instance(cls)


@_register
class BadRequest(AppError):
    status, title, type_slug = 400, "Bad request", "bad-request"


@_register
class Unauthorized(AppError):
    status, title, type_slug = 401, "Unauthorized", "unauthorized"


@_register
class NotAllowed(AppError):
    status, title, type_slug = 403, "Forbidden", "forbidden"


@_register
class NotFound(AppError):
    status, title, type_slug = 404, "Not found", "not-found"


@_register
class Conflict(AppError):
    status, title, type_slug = 409, "Conflict", "conflict"


@_register
class InvalidState(Conflict):
    title, type_slug = "Invalid state", "invalid-state"


@_register
class StaleVersion(Conflict):
    title, type_slug = "Stale version", "stale-version"


@_register
class PayloadTooLarge(AppError):
    status, title, type_slug = 413, "Payload too large", "too-large"


@_register
class UnsupportedMediaType(AppError):
    status, title, type_slug = 415, "Unsupported media type", "unsupported-media-type"


@_register
class ValidationFailed(AppError):
    status, title, type_slug = 422, "Validation failed", "validation-failed"


@_register
class PreconditionRequired(AppError):
    status, title, type_slug = 428, "Precondition required", "precondition-required"


@_register
class TooManyRequests(AppError):
    status, title, type_slug = 429, "Too many requests", "too-many-requests"


@_register
class ServiceUnavailable(AppError):
    status, title, type_slug = 503, "Service unavailable", "service-unavailable"


@_register
class GatewayTimeout(AppError):
    status, title, type_slug = 504, "Upstream timeout", "upstream-timeout"
