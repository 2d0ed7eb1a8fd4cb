"""The OpenAPI 3 document, generated from the routes and their marshmallow schemas."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from gateway.http import ROUTES, RouteSpec

_PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")
_TITLES = {400: "Malformed request", 401: "No or bad token", 403: "Not allowed",
           404: "Not found", 409: "State or version conflict", 413: "Too large",
           415: "Wrong media type", 422: "Validation failed", 429: "Too many requests"}


def _operation(route: RouteSpec) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": route.summary, "tags": route.tags or ["misc"],
                          "operationId": _operation_id(route), "responses": {}}
    params = [{"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
              for name in _PARAM.findall(route.path)]
    if route.query is not None:
        params.append({"in": "query", "schema": route.query})
    if route.idempotent:
        params.append("IdempotencyKey")  # the component in openapi_document
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {route.body_content: {"schema": route.body}}}
    elif route.body_content != "application/json":
        op["requestBody"] = {"required": True, "content": {
            route.body_content: {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"}}}}}}
    ok: dict[str, Any] = {"description": "OK" if route.status == 200 else "Created"}
    if route.response is not None:
        schema: Any = route.response
        if route.many:
            schema = {"type": "array", "items": route.response}
            ok["headers"] = {"X-Total-Count": {"schema": {"type": "integer"},
                                               "description": "Items across all pages"}}
        ok["content"] = {route.content: {"schema": schema}}
    elif route.content != "application/json":
        ok["content"] = {route.content: {"schema": {"type": "string"}}}
    else:
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    op["responses"][str(route.status)] = ok
    for status in route.errors:
        op["responses"][str(status)] = {
            "description": _TITLES.get(status, "Error"),
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    if route.auth:
        op["security"] = [{"bearer": []}]
    return op


def _operation_id(route: RouteSpec) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", _PARAM.sub("by_\\1", route.path.lower())).strip("_")
    return f"{route.method.lower()}_{words}"


@cache
def openapi_document() -> dict[str, Any]:
    spec = APISpec(
        title="ClusterXchange API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Registration, matching, exchanges and payouts of the "
                             "ClusterXchange scheme. Errors are RFC 9457 problem documents."},
        servers=[{"url": "/"}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"})
    spec.components.schema("Problem", {"type": "object", "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array",
                                                              "items": {"type": "string"}}}}})
    spec.components.parameter("IdempotencyKey", "header", {
        "name": "Idempotency-Key", "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
        "description": "Retry safely: the same key with the same body returns the first result "
                       "(with `Idempotent-Replayed: true`) instead of creating again; the same "
                       "key with another body is 409. Keys are kept 24 hours, per caller."})
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        if route.hidden:
            continue
        path = _PARAM.sub(r"{\1}", route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
