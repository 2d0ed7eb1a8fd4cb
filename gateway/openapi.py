"""The OpenAPI 3 document, generated from the routes and their marshmallow schemas."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from gateway.http import PROBLEM, ROUTES, RouteSpec

_PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")
_TITLES = {400: "Malformed request", 401: "No or bad token", 403: "Not allowed",
           404: "Not found", 409: "State or version conflict", 413: "Too large",
           415: "Wrong media type", 422: "Validation failed",
           428: "No version sent (If-Match or `version`)", 429: "Too many requests",
           503: "A service behind the API is unavailable", 504: "A service did not answer in time"}
_INT = {"schema": {"type": "integer"}}
_RETRY_AFTER = {"Retry-After": {**_INT, "description": "Seconds to wait before retrying"}}
_ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True,
                               "description": "Bearer, with error=\"invalid_token\" when one was sent"}},
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}
_LIST_HEADERS = {
    "X-Total-Count": {**_INT, "required": True, "description": "Items across all pages"},
    "X-Page": {**_INT, "description": "This page's number"},
    "X-Per-Page": {**_INT, "description": "Items per page"},
    "Link": {"schema": {"type": "string"},
             "description": "RFC 8288 first, prev, next and last pages, with the same query"},
}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
MERGE_PATCH = "application/merge-patch+json"


_SUCCESS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No content"}


def statuses(route: RouteSpec) -> set[int]:
    """Every error status the route can answer with: those it declares and those that
    follow from its shape (a body, a token, path values, a query, services behind it)."""
    found = set(route.errors)
    if route.body is not None:
        found |= {400, 413, 415, 422}
    elif route.body_content != "application/json":
        found |= {400, 413, 415}
    if route.auth:
        found.add(401)
    if _PARAM.search(route.path):
        found.add(404)
    if route.query is not None:
        found.add(422)
    if route.rpc:
        found |= {503, 504}
    return found


def _operation(route: RouteSpec) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": route.summary, "tags": route.tags or ["misc"],
                          "operationId": operation_id(route), "responses": {}}
    params = [{"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
              for name in _PARAM.findall(route.path)]
    if route.query is not None:
        params.append({"in": "query", "schema": route.query})
    if route.idempotent:
        params.append("IdempotencyKey")  # the component in openapi_document
    if route.method == "PATCH":
        params.append({"in": "header", "name": "If-Match", "required": False,
                       "schema": {"type": "string"},
                       "description": "The ETag you read (or send `version` in the body)"})
    if params:
        op["parameters"] = params
    if route.body is not None:
        types = [route.body_content] + (["application/json"] if route.body_content == MERGE_PATCH else [])
        op["requestBody"] = {"required": True,
                             "content": {t: {"schema": route.body} for t in types}}
        if route.form_files:
            files = {"type": "object", "properties": {
                name: {"type": "string", "format": "binary"} for name in route.form_files}}
            op["requestBody"]["content"]["multipart/form-data"] = {
                "schema": {"allOf": [route.body, files]}}
    elif route.body_content != "application/json":
        op["requestBody"] = {"required": True, "content": {
            route.body_content: _BINARY,
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"}}}}}}
    ok: dict[str, Any] = {"description": _SUCCESS.get(route.status, "OK")}
    headers: dict[str, Any] = {}
    if route.response is not None:
        schema: Any = route.response
        if route.many:
            schema = {"type": "array", "items": route.response}
            headers.update(_LIST_HEADERS)
        ok["content"] = {t: {"schema": schema} for t in _types(route.content)}
    elif route.content != "application/json":
        ok["content"] = {t: _BINARY if t.startswith("application/") else {"schema": {"type": "string"}}
                         for t in _types(route.content)}
    elif route.status != 204:
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    if route.location:
        headers["Location"] = {"schema": {"type": "string"}, "required": True,
                               "description": "Where the new resource is"}
    if headers:
        ok["headers"] = headers
    if route.links:
        ok["links"] = route.links
    op["responses"][str(route.status)] = ok
    for status in route.same_body:
        op["responses"][str(status)] = {**ok, "description": "Degraded"}
    for status in sorted(statuses(route)):
        response: dict[str, Any] = {
            "description": _TITLES.get(status, "Error"),
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status in _ERROR_HEADERS:
            response["headers"] = _ERROR_HEADERS[status]
        op["responses"][str(status)] = response
    if route.auth:
        op["security"] = [{"bearer": []}]
    return op


def _types(content: str | tuple[str, ...]) -> tuple[str, ...]:
    return (content,) if isinstance(content, str) else content


def operation_id(route: RouteSpec) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", _PARAM.sub("by_\\1", route.path.lower())).strip("_")
    return f"{route.method.lower()}_{words}"


def _nullable_refs(node: Any) -> Any:
    """apispec writes a nullable nested object as anyOf [{nullable object}, $ref], which
    matches any object; OpenAPI 3.0 says it as allOf [$ref] with nullable: true."""
    if isinstance(node, list):
        return [_nullable_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_refs(value) for key, value in node.items()}
    options = node.get("anyOf")
    if isinstance(options, list) and len(options) == 2:
        refs = [o for o in options if "$ref" in o]
        nulls = [o for o in options if o == {"type": "object", "nullable": True}]
        if len(refs) == 1 and len(nulls) == 1:
            del node["anyOf"]
            node.update({"allOf": refs, "nullable": True})
    return node


@cache
def openapi_document() -> dict[str, Any]:
    spec = APISpec(
        title="ClusterXchange API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Registration, matching, exchanges and payouts of the "
                             "ClusterXchange scheme. Errors are RFC 9457 problem documents "
                             "whose `type` is a page of this server (/problems/...) or "
                             "about:blank. PATCH is a JSON merge patch (RFC 7396)."},
        servers=[{"url": "/"}],
    )
    spec.components.security_scheme("bearer", {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "A token from POST /api/v1/auth/token, or a partnership back-office's "
                       "API key (`cxk_…`, from POST /api/v1/api-keys), which acts as the "
                       "read-only `backoffice` role of its partnership."})
    spec.components.schema("Problem", {"type": "object", "required": ["type", "title", "status"],
                                       "properties": {
        "type": {"type": "string", "format": "uri-reference"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
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
    return _nullable_refs(spec.to_dict())
