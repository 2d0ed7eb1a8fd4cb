"""The in-app inbox: the unread count beside the account in the header, the notifications
(unread first), marking them read, and which of them also come by email. The same RPCs as
gateway/routes/notifications.py."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from common.errors import AppError
from gateway.web.forms import flatten_errors
from gateway.web.i18n import N_
from gateway.web.pages import WebRoutes, page, see_other
from gateway.web.session import WebRequest, safe_next
from gateway.web.unread import UNREAD

PER_PAGE = 20


class InboxPages(WebRoutes):
    @page("GET", "/notifications")
    def page_notifications(self, web: WebRequest) -> Response:
        UNREAD.forget(web.token or "")  # the inbox and its bell agree
        number = _page_number(web.request.args.get("page"))
        found = self._web(web, "notifications", "list_notifications",
                          {"page": str(number), "per_page": str(PER_PAGE)})
        return self._page(web, "notifications.html", title=N_("Notifications"),
                          section="notifications", notifications=found["items"],
                          total=found["total"], number=number,
                          pages=max(1, -(-found["total"] // PER_PAGE)))

    @page("POST", "/notifications/<string:notification_id>/read")
    def page_read_notification(self, web: WebRequest, notification_id: str) -> Response:
        read = self._web(web, "notifications", "mark_read", notification_id)
        UNREAD.forget(web.token or "")
        if web.form.get("open") and read.get("link"):
            return see_other(safe_next(read["link"]))
        return see_other("/notifications")

    @page("POST", "/notifications/read-all")
    def page_read_all_notifications(self, web: WebRequest) -> Response:
        marked = self._web(web, "notifications", "mark_all_read")["marked"]
        UNREAD.forget(web.token or "")
        if marked:
            web.say(N_("Every notification is marked read."), "info")
        return see_other("/notifications")

    @page("GET", "/notifications/preferences")
    def page_notification_preferences(self, web: WebRequest) -> Response:
        preferences = self._web(web, "notifications", "get_preferences")
        return self._preferences(web, preferences, {}, "")

    @page("POST", "/notifications/preferences")
    def page_set_notification_preferences(self, web: WebRequest) -> Response:
        body: dict[str, Any] = {"email_kinds": web.form.getlist("email_kinds")}
        if web.form.get("language"):
            body["language"] = web.form["language"]
        if (web.form.get("version") or "").isdigit():
            body["version"] = int(web.form["version"])
        try:
            self._web(web, "notifications", "set_preferences", body)
        except AppError as exc:
            if exc.status not in (409, 422):
                raise
            preferences = self._web(web, "notifications", "get_preferences")
            if exc.status == 422:  # what was ticked stays ticked
                preferences = {**preferences, "email_kinds": body["email_kinds"]}
            return self._preferences(web, preferences, flatten_errors(exc.errors), exc.detail,
                                     exc.status)
        web.say(N_("Your notification preferences are saved."))
        return see_other("/notifications/preferences")

    def _preferences(self, web: WebRequest, preferences: dict[str, Any],
                     errors: dict[str, list[str]], detail: str, status: int = 200) -> Response:
        return self._page(web, "notification_preferences.html", status=status,
                          title=N_("Notification preferences"), section="notifications",
                          preferences=preferences, errors=errors, detail=detail)


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 10_000 else 1
