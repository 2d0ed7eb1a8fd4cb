"""Reading what a client sent: JSON bodies, bearer tokens, query strings, uploads."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request

from common.auth import SERVICE_ROLE, TokenService
from common.errors import BadRequest, PayloadTooLarge, Unauthorized, UnsupportedMediaType

MAX_JSON_BYTES = 256 * 1024
# No contract nests deeper than a handful of levels; a limit keeps every later walk cheap.
MAX_JSON_DEPTH = 32


def json_body(request: Request) -> Any:
    if request.content_length and request.content_length > MAX_JSON_BYTES:
        raise PayloadTooLarge(f"JSON bodies are limited to {MAX_JSON_BYTES} bytes.")
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType("Send the body as application/json.")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_JSON_BYTES:
        raise PayloadTooLarge(f"JSON bodies are limited to {MAX_JSON_BYTES} bytes.")
    try:
        body = json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.") from exc
    except RecursionError as exc:
        raise BadRequest(f"The body nests deeper than {MAX_JSON_DEPTH} levels.") from exc
    if json_depth(body) > MAX_JSON_DEPTH:
        raise BadRequest(f"The body nests deeper than {MAX_JSON_DEPTH} levels.")
    return body


def json_depth(value: Any) -> int:
    """How deep arrays and objects nest (a scalar is 0), without recursion."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        pending.extend((child, depth + 1) for child in children)
    return deepest


def optional_json_body(request: Request) -> Any:
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        return {}
    body = json_body(request)
    return {} if body is None else body


_RESOLVED = "cxc.bearer_token"


def bearer_token(request: Request, tokens: TokenService) -> str:
    """The caller's token, verified here so a bad one is turned away before any RPC. An API
    key is exchanged for the short-lived token it stands for (see gateway.routes.base)."""
    resolved = request.environ.get(_RESOLVED)
    if resolved:
        return resolved
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send a bearer token: Authorization: Bearer <token>.")
    resolve = getattr(tokens, "resolve", None)
    resolved = resolve(token.strip()) if resolve is not None else token.strip()
    if SERVICE_ROLE in tokens.verify(resolved).roles:
        # A service's token is for RPC between services only (common.service_identity).
        raise Unauthorized("The token is not valid.")
    request.environ[_RESOLVED] = resolved
    return resolved


def query_args(request: Request) -> dict[str, str]:
    """Every query parameter, empty ones too: `?country=` is a value the schema refuses."""
    return dict(request.args.items())


def upload_bytes(request: Request, max_bytes: int) -> tuple[bytes, str | None]:
    """The uploaded file's bytes and its name; raw bodies and multipart forms are both fine."""
    declared = request.content_length
    if declared is not None and declared > max_bytes + 64 * 1024:
        raise PayloadTooLarge(f"Files are limited to {max_bytes} bytes.")
    if request.mimetype == "multipart/form-data":
        request.max_content_length = max_bytes + 64 * 1024
        upload = request.files.get("file")
        if upload is None:
            raise BadRequest("Send the file in a form field named 'file'.")
        data = upload.stream.read(max_bytes + 1)
        filename = upload.filename
    else:
        data = request.stream.read(max_bytes + 1)
        filename = request.headers.get("X-Filename") or None
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"Files are limited to {max_bytes} bytes.")
    return data, filename
