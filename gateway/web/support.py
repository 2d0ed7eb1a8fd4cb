"""The support desk in the browser: asking a question (signed in or with an email to answer
to, with a screenshot), one's queries and their conversation, booking a meeting slot with the
support office; the support agents' queue. The same RPCs as gateway/routes/support.py."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from common.errors import AppError, PayloadTooLarge, ValidationFailed
from common.storage import check_document
from gateway.browser import browser_from_user_agent
from gateway.routes.base import content_disposition
from gateway.web.forms import flatten_errors
from gateway.web.i18n import N_
from gateway.web.pages import WebRoutes, page, see_other
from gateway.web.session import WebRequest, sign_in_url
from services.notifications.support_desk import AGENT_ROLES, SCREENSHOT_TYPES, support_settings

QUERY_FIELDS = ("subject", "text", "participant_status", "exchange_reference", "email", "name")


def is_agent(web: WebRequest) -> bool:
    return bool(web.account and set(web.account.get("roles", [])) & set(AGENT_ROLES))


class SupportPages(WebRoutes):
    # --- asking ---------------------------------------------------------------------------

    @page("GET", "/support", signed_in=False)
    def page_support(self, web: WebRequest) -> Response:
        return self._ask(web, {}, "", {})

    @page("POST", "/support", signed_in=False)
    def page_send_support_query(self, web: WebRequest) -> Response:
        values = {k: web.form[k].strip() for k in QUERY_FIELDS if web.form.get(k, "").strip()}
        brand, version = browser_from_user_agent(web.request.headers.get("User-Agent"))
        payload = {**values, "browser_brand": brand, "browser_version": version}
        screenshot = None
        try:
            if not web.token:
                self.limits.check("support", self.limits.client(web.request))
            screenshot = self._screenshot(web)
            sent = self._call(web.request, "notifications", "create_support_query", payload,
                              screenshot, auth=bool(web.token),
                              form_key=web.form.get("idempotency_key"))
        except (ValidationFailed, AppError) as exc:
            if screenshot and 400 <= exc.status < 500:
                self.store.delete(screenshot["key"])
            if exc.status not in (400, 403, 409, 413, 415, 422, 429):
                raise
            return self._ask(web, values, exc.detail, flatten_errors(exc.errors), exc.status)
        if web.token:
            web.say(N_("Your question is sent. The support office answers here and by email."))
            return see_other(f"/support/queries/{sent['id']}")
        return self._page(web, "support_sent.html", title=N_("Your question is sent"),
                          query=sent, email=values.get("email", ""))

    def _screenshot(self, web: WebRequest) -> dict[str, Any] | None:
        upload = web.request.files.get("screenshot")
        if upload is None or not upload.filename:
            return None
        max_bytes = int(support_settings(self.config)["screenshot_max_bytes"])
        picture = upload.stream.read(max_bytes + 1)
        if len(picture) > max_bytes:
            raise PayloadTooLarge(f"Screenshots are limited to {max_bytes} bytes.")
        if not picture:
            return None
        content_type = check_document(picture, SCREENSHOT_TYPES, max_bytes)
        stored = self.store.put("support/screenshots", picture, content_type)
        return {**stored.to_dict(), "content_type": content_type}

    def _ask(self, web: WebRequest, values: dict[str, Any], detail: str,
             errors: dict[str, list[str]], status: int = 200) -> Response:
        return self._page(web, "support.html", status=status, title=N_("Ask the support office"),
                          section="support", values=values, detail=detail, errors=errors)

    # --- queries and their conversation ---------------------------------------------------

    @page("GET", "/support/queries")
    def page_support_queries(self, web: WebRequest) -> Response:
        query = {"per_page": "50"}
        status = web.request.args.get("status")
        if status in ("open", "answered", "closed"):
            query["status"] = status
        found = self._web(web, "notifications", "list_support_queries", query)
        agent = is_agent(web)
        return self._page(web, "support_queries.html",
                          title=N_("Support queue") if agent else N_("My questions"),
                          section="support-queue" if agent else "support", agent=agent,
                          queries=found["items"], shown=status)

    @page("GET", "/support/queries/<string:query_id>", signed_in=False)
    def page_support_query(self, web: WebRequest, query_id: str) -> Response:
        link = None if web.token else web.request.args.get("token")
        if not web.token and not link:
            return see_other(sign_in_url(web.path))
        found = self._call(web.request, "notifications", "get_support_query", query_id, link,
                           auth=bool(web.token))
        return self._page(web, "support_query.html", title=found["subject"],
                          section="support-queue" if is_agent(web) else "support", query=found,
                          link=link, agent=is_agent(web), errors={}, detail="")

    @page("POST", "/support/queries/<string:query_id>/reply", signed_in=False)
    def page_reply_support_query(self, web: WebRequest, query_id: str) -> Response:
        link = None if web.token else (web.form.get("token") or None)
        try:
            self._call(web.request, "notifications", "reply_support_query", query_id,
                       {"text": web.form.get("text", "")}, link, auth=bool(web.token),
                       form_key=web.form.get("idempotency_key"))
        except (ValidationFailed, AppError) as exc:
            if exc.status not in (409, 422):
                raise
            found = self._call(web.request, "notifications", "get_support_query", query_id, link,
                               auth=bool(web.token))
            return self._page(web, "support_query.html", status=exc.status, title=found["subject"],
                              section="support", query=found, link=link, agent=is_agent(web),
                              errors=flatten_errors(exc.errors), detail=exc.detail)
        web.say(N_("Your message is sent."))
        return see_other(f"/support/queries/{query_id}" + (f"?token={link}" if link else ""))

    @page("GET", "/support/queries/<string:query_id>/screenshot", signed_in=False)
    def page_support_screenshot(self, web: WebRequest, query_id: str) -> Response:
        link = None if web.token else web.request.args.get("token")
        found = self._call(web.request, "notifications", "support_screenshot", query_id, link,
                           auth=bool(web.token))
        extension = "png" if found["content_type"] == "image/png" else "jpg"
        return Response(self.store.get(found["key"]), mimetype=found["content_type"], headers={
            "Content-Disposition": content_disposition(f"{found['reference']}.{extension}")})

    @page("POST", "/support/queries/<string:query_id>/close")
    def page_close_support_query(self, web: WebRequest, query_id: str) -> Response:
        self._web(web, "notifications", "close_support_query", query_id)
        web.say(N_("The query is closed."), "info")
        return see_other(f"/support/queries/{query_id}")

    # --- meetings -------------------------------------------------------------------------

    @page("GET", "/support/meetings")
    def page_support_meetings(self, web: WebRequest) -> Response:
        return self._meetings(web, {}, "")

    @page("POST", "/support/meetings")
    def page_book_support_meeting(self, web: WebRequest) -> Response:
        body = {k: web.form[k].strip() for k in ("start", "topic", "exchange_reference",
                                                 "query_id") if web.form.get(k, "").strip()}
        try:
            self._web(web, "notifications", "book_meeting", body, idempotent=True)
        except (ValidationFailed, AppError) as exc:
            if exc.status not in (403, 409, 422):
                raise
            return self._meetings(web, flatten_errors(exc.errors), exc.detail, exc.status)
        web.say(N_("Your meeting is booked. We sent you the details by email."))
        return see_other("/support/meetings")

    @page("POST", "/support/meetings/<string:meeting_id>/cancel")
    def page_cancel_support_meeting(self, web: WebRequest, meeting_id: str) -> Response:
        self._web(web, "notifications", "cancel_meeting", meeting_id)
        web.say(N_("The meeting is cancelled."), "info")
        return see_other("/support/meetings")

    def _meetings(self, web: WebRequest, errors: dict[str, list[str]], detail: str,
                  status: int = 200) -> Response:
        agent = is_agent(web)
        slots = [] if agent else [s for s in self._web(web, "notifications",
                                                        "list_support_slots", {}) if s["available"]]
        meetings = self._web(web, "notifications", "list_meetings", {"per_page": "50"})["items"]
        return self._page(web, "support_meetings.html", status=status,
                          title=N_("Meetings with the support office"),
                          section="support-queue" if agent else "support", agent=agent,
                          slots=slots, meetings=meetings, errors=errors, detail=detail)
