"""Notifications: each person's in-app inbox and their email preferences.

Webhooks, API keys, the support desk and meetings add their route groups in modules of their
own (gateway/routes/<area>.py), registered in gateway/service.py.
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from gateway.http import api, json_response
from gateway.requests import json_body, query_args
from gateway.routes.base import V1, Routes, paged, versioned, with_etag
from services.notifications import schemas as notes

NOTIFICATIONS = f"{V1}/notifications"
_ID = {"notification_id": "$response.body#/id"}
NOTIFICATION_LINKS = {
    "MarkRead": {"operationId": "post_api_v1_notifications_by_notification_id_read", "parameters": _ID},
}
LIST_LINKS = {
    "MarkFirstRead": {"operationId": "post_api_v1_notifications_by_notification_id_read",
                      "parameters": {"notification_id": "$response.body#/0/id"}},
}


class NotificationRoutes(Routes):
    @api("GET", NOTIFICATIONS, "Your notifications, unread first, then newest first",
         tags=["notifications"], query=notes.NotificationListQuerySchema,
         response=notes.NotificationSchema, many=True, errors=(401, 403, 422), links=LIST_LINKS)
    def list_notifications(self, request: Request) -> Response:
        return paged(self._call(request, "notifications", "list_notifications", query_args(request)),
                     request)

    @api("GET", f"{NOTIFICATIONS}/unread-count", "How many of your notifications are unread",
         tags=["notifications"], response=notes.UnreadCountSchema, errors=(401, 403))
    def unread_notifications(self, request: Request) -> Response:
        return json_response(self._call(request, "notifications", "unread_count"))

    @api("POST", f"{NOTIFICATIONS}/<string:notification_id>/read", "Mark one of your "
         "notifications read (again: no change)", tags=["notifications"],
         response=notes.NotificationSchema, errors=(401, 403, 404), links=NOTIFICATION_LINKS)
    def read_notification(self, request: Request, notification_id: str) -> Response:
        return json_response(self._call(request, "notifications", "mark_read", notification_id))

    @api("POST", f"{NOTIFICATIONS}/read-all", "Mark all your notifications read",
         tags=["notifications"], response=notes.MarkedReadSchema, errors=(401, 403))
    def read_all_notifications(self, request: Request) -> Response:
        return json_response(self._call(request, "notifications", "mark_all_read"))

    @api("GET", f"{NOTIFICATIONS}/preferences", "Which non-essential notifications you also "
         "receive by email, and your language", tags=["notifications"],
         response=notes.NotificationPreferencesSchema, errors=(401, 403))
    def get_notification_preferences(self, request: Request) -> Response:
        return with_etag(self._call(request, "notifications", "get_preferences"))

    @api("PUT", f"{NOTIFICATIONS}/preferences", "Choose which non-essential notifications you "
         "also receive by email (essential ones always are); `version` or If-Match",
         tags=["notifications"], body=notes.SetNotificationPreferencesSchema,
         response=notes.NotificationPreferencesSchema,
         errors=(400, 401, 403, 409, 415, 422))
    def set_notification_preferences(self, request: Request) -> Response:
        body = versioned(request, json_body(request))
        return with_etag(self._call(request, "notifications", "set_preferences", body))
