"""The support desk and the bilateral meetings with the support office.

A query may be sent without signing in (an email to answer to; rate-limited per address), so
the query routes take a bearer token when one is sent and otherwise the single-purpose token
emailed to an anonymous requester (`X-Support-Token` header, or `?token=` as in the link).
"""

from __future__ import annotations

import logging
from typing import Any

from marshmallow import Schema, fields
from werkzeug.wrappers import Request, Response

from common.errors import AppError, BadRequest, PayloadTooLarge
from common.storage import check_document
from gateway.browser import browser_from_user_agent
from gateway.http import REPLAYED, api, json_response
from gateway.requests import bearer_token, json_body, query_args
from gateway.routes.base import V1, Routes, content_disposition, idempotency_key, paged
from services.notifications import support_schemas as ss
from services.notifications.support_desk import SCREENSHOT_TYPES, support_settings

log = logging.getLogger(__name__)

SUPPORT = f"{V1}/support"
QUERIES = f"{SUPPORT}/queries"
QUERY = f"{QUERIES}/<string:query_id>"
MEETINGS = f"{SUPPORT}/meetings"
SCREENSHOT_FIELD = "screenshot"
TOKEN_HEADER = "X-Support-Token"  # noqa: S105 - a header name
MEETING = f"{MEETINGS}/<string:meeting_id>"
_QUERY_ID = {"query_id": "$response.body#/id"}
_MEETING_ID = {"meeting_id": "$response.body#/id"}
MEETING_LINKS = {
    "GetMeeting": {"operationId": "get_api_v1_support_meetings_by_meeting_id", "parameters": _MEETING_ID},
    "CancelMeeting": {"operationId": "post_api_v1_support_meetings_by_meeting_id_cancel",
                      "parameters": _MEETING_ID},
}
QUERY_LINKS = {
    "GetQuery": {"operationId": "get_api_v1_support_queries_by_query_id", "parameters": _QUERY_ID},
    "Reply": {"operationId": "post_api_v1_support_queries_by_query_id_replies", "parameters": _QUERY_ID},
}


class SupportAccessQuerySchema(Schema):
    token = fields.String(metadata={"description": "The token of the link emailed to an anonymous "
                                                   "requester (or send it as X-Support-Token)"})


def _access_token(request: Request) -> str | None:
    return request.headers.get(TOKEN_HEADER) or request.args.get("token") or None


class SupportRoutes(Routes):
    def _optional_token(self, request: Request) -> str | None:
        """The caller's verified bearer token, or None without an Authorization header."""
        if request.headers.get("Authorization"):
            return bearer_token(request, self.tokens)
        return None

    def _support_call(self, request: Request, method: str, *args: Any, token: str | None) -> Any:
        kwargs: dict[str, Any] = {}
        key = idempotency_key(request)
        if key is not None:
            kwargs["idempotency_key"] = key
        result = self.rpc.call("notifications", method, *args, auth_token=token, **kwargs)
        if isinstance(result, dict) and result.pop("_idempotent_replayed", False):
            request.environ[REPLAYED] = True
        return result

    # --- queries ------------------------------------------------------------------------

    @api("POST", QUERIES, "Ask the support office: signed in as a participant, or with an email "
         "to answer to (then rate-limited per address, and the answer comes by email with a link). "
         "JSON, or multipart/form-data with the same fields and an optional `screenshot` (PNG or "
         "JPEG, at most 5 MB). The browser is taken from the User-Agent unless sent.",
         tags=["support"], auth=False, body=ss.CreateSupportQuerySchema,
         form_files=(SCREENSHOT_FIELD,), response=ss.SupportQuerySchema, status=201,
         idempotent=True, location=True, errors=(400, 401, 403, 409, 413, 415, 422, 429),
         links=QUERY_LINKS)
    def create_support_query(self, request: Request) -> Response:
        token = self._optional_token(request)
        if token is None:
            self.limits.check("support", request.remote_addr or "?")
        max_bytes = int(support_settings(self.config)["screenshot_max_bytes"])
        payload, picture = self._query_form(request, max_bytes)
        brand, version = browser_from_user_agent(request.headers.get("User-Agent"))
        if isinstance(payload, dict):
            payload.setdefault("browser_brand", brand)
            payload.setdefault("browser_version", version)
        screenshot = None
        if picture is not None:
            content_type = check_document(picture, SCREENSHOT_TYPES, max_bytes)
            stored = self.store.put("support/screenshots", picture, content_type)
            screenshot = {**stored.to_dict(), "content_type": content_type}
        try:
            result = self._support_call(request, "create_support_query", payload, screenshot,
                                        token=token)
        except AppError as exc:
            if screenshot and 400 <= exc.status < 500:
                self.store.delete(screenshot["key"])
            raise
        return json_response(result, 201, {"Location": f"{QUERIES}/{result['id']}"})

    def _query_form(self, request: Request, max_bytes: int) -> tuple[Any, bytes | None]:
        if request.mimetype != "multipart/form-data":
            return json_body(request), None
        if request.content_length and request.content_length > max_bytes + 64 * 1024:
            raise PayloadTooLarge(f"Screenshots are limited to {max_bytes} bytes.")
        request.max_content_length = max_bytes + 64 * 1024
        try:
            form = {key: value for key, value in request.form.items() if value != ""}
            upload = request.files.get(SCREENSHOT_FIELD)
        except ValueError as exc:
            raise BadRequest("The form could not be read.") from exc
        picture = None
        if upload is not None:
            picture = upload.stream.read(max_bytes + 1)
            if len(picture) > max_bytes:
                raise PayloadTooLarge(f"Screenshots are limited to {max_bytes} bytes.")
        return form, picture or None

    @api("GET", QUERIES, "Support queries: support agents see every query, a participant their "
         "own; filter by status, interested/registered and words", tags=["support"],
         query=ss.SupportQueryListQuerySchema, response=ss.SupportQuerySchema, many=True,
         errors=(401, 403, 422))
    def list_support_queries(self, request: Request) -> Response:
        return paged(self._call(request, "notifications", "list_support_queries",
                                query_args(request)), request)

    @api("GET", QUERY, "One query with its conversation: a support agent, its requester, or "
         "the holder of the emailed link's token", tags=["support"], auth=False,
         query=SupportAccessQuerySchema, response=ss.SupportQuerySchema, errors=(401, 404),
         links=QUERY_LINKS)
    def get_support_query(self, request: Request, query_id: str) -> Response:
        token = self._optional_token(request)
        return json_response(self.rpc.call("notifications", "get_support_query", query_id,
                                           None if token else _access_token(request), auth_token=token))

    @api("POST", f"{QUERY}/replies", "Add to the conversation: a support agent's answer (the "
         "requester is told by email, and in their inbox when signed in) or the requester's "
         "reply, which opens the query again", tags=["support"], auth=False,
         query=SupportAccessQuerySchema, body=ss.ReplySchema, response=ss.SupportQuerySchema,
         status=201, idempotent=True, location=True, errors=(401, 404, 409), links=QUERY_LINKS)
    def reply_support_query(self, request: Request, query_id: str) -> Response:
        token = self._optional_token(request)
        body = json_body(request)
        result = self._support_call(request, "reply_support_query", query_id, body,
                                    None if token else _access_token(request), token=token)
        return json_response(result, 201, {"Location": f"{QUERIES}/{result['id']}"})

    @api("POST", f"{QUERY}/close", "Close a query (support agents)", tags=["support"],
         response=ss.SupportQuerySchema, errors=(401, 403, 404, 409))
    def close_support_query(self, request: Request, query_id: str) -> Response:
        return json_response(self._call(request, "notifications", "close_support_query", query_id))

    @api("GET", f"{QUERY}/screenshot", "The query's screenshot (a support agent or its requester)",
         tags=["support"], auth=False, query=SupportAccessQuerySchema,
         content=tuple(sorted(SCREENSHOT_TYPES)), errors=(401, 404))
    def support_screenshot(self, request: Request, query_id: str) -> Response:
        token = self._optional_token(request)
        found = self.rpc.call("notifications", "support_screenshot", query_id,
                              None if token else _access_token(request), auth_token=token)
        extension = "png" if found["content_type"] == "image/png" else "jpg"
        return Response(self.store.get(found["key"]), mimetype=found["content_type"], headers={
            "Content-Disposition": content_disposition(f"{found['reference']}.{extension}"),
            "X-Content-SHA256": found.get("sha256") or "", "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff"})

    # --- meetings -----------------------------------------------------------------------

    @api("GET", f"{SUPPORT}/slots", "Meeting slots with the support office for the next weeks: "
         "30 minutes, Monday to Friday 10:00-14:00 Brussels time on Belgian working days; "
         "`start` in UTC with the Brussels local time alongside", tags=["support"],
         query=ss.SlotQuerySchema, response=ss.SlotSchema, many=True, errors=(401, 422))
    def list_support_slots(self, request: Request) -> Response:
        items = self._call(request, "notifications", "list_support_slots", query_args(request))
        return json_response(items, headers={"X-Total-Count": str(len(items))})

    @api("POST", MEETINGS, "Book a slot (participants; one upcoming meeting at a time). A slot "
         "someone else holds is 409", tags=["support"], body=ss.BookMeetingSchema,
         response=ss.MeetingSchema, status=201, idempotent=True, location=True,
         errors=(401, 403, 409, 422), links=MEETING_LINKS)
    def book_meeting(self, request: Request) -> Response:
        result = self._call(request, "notifications", "book_meeting", json_body(request))
        return json_response(result, 201, {"Location": f"{MEETINGS}/{result['id']}"})

    @api("GET", MEETING, "One meeting (its participant, or a support agent)", tags=["support"],
         response=ss.MeetingSchema, errors=(401, 404), links=MEETING_LINKS)
    def get_meeting(self, request: Request, meeting_id: str) -> Response:
        return json_response(self._call(request, "notifications", "get_meeting", meeting_id))

    @api("GET", MEETINGS, "Meetings: the agenda for support agents, your own for a participant",
         tags=["support"], query=ss.MeetingListQuerySchema, response=ss.MeetingSchema, many=True,
         errors=(401, 403, 422))
    def list_meetings(self, request: Request) -> Response:
        return paged(self._call(request, "notifications", "list_meetings", query_args(request)),
                     request)

    @api("POST", f"{MEETING}/cancel", "Cancel a meeting still to come (its "
         "participant, or a support agent); both sides are told", tags=["support"],
         response=ss.MeetingSchema, errors=(401, 403, 404, 409))
    def cancel_meeting(self, request: Request, meeting_id: str) -> Response:
        return json_response(self._call(request, "notifications", "cancel_meeting", meeting_id))
