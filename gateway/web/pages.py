"""How a page is served: the `@page` decorator, HTML errors, sign-in redirects, CSRF checks.

Pages are registered on the gateway's own web server but not in gateway.http.ROUTES, so
they stay out of the OpenAPI document (they are HTML for people, not the API).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from common.errors import AppError, Unauthorized
from common.rpc import BROKER_ERRORS
from gateway.http import Api
from gateway.routes.base import SESSION_TOKEN, Routes
from gateway.web.assets import ASSETS_DIR
from gateway.web.cache import TtlCache
from gateway.web.i18n import LANGUAGE_COOKIE, N_, choose_locale
from gateway.web.render import render
from gateway.web.session import SESSION_COOKIE, WebRequest, sign_in_url
from gateway.web.unread import unread_count

log = logging.getLogger(__name__)

ERROR_TITLES = {
    403: N_("You may not do this"),
    404: N_("Page not found"),
    409: N_("Someone changed this in the meantime"),
    503: N_("The service is unavailable"),
    504: N_("The service did not answer in time"),
}


class Page(Api):
    """An HTML route: its errors are pages too."""

    def response_from_exception(self, exc: Exception) -> Response:
        status = exc.status if isinstance(exc, AppError) else 503 if isinstance(
            exc, BROKER_ERRORS) else 500
        if status == 500:
            log.error("unhandled error in a page: %r", exc)
        return error_page(status, exc.detail if isinstance(exc, AppError) else "")


def error_page(status: int, detail: str, locale: str = "en") -> Response:
    html = render(locale, "error.html", status=status, detail=detail, web=None,
                  title=ERROR_TITLES.get(status, N_("Something went wrong")))
    return Response(html, status=status, mimetype="text/html",
                    headers={"Cache-Control": "no-store"})


def html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/html")


def page(method: str, url: str, signed_in: bool = True) -> Any:
    """`@page("GET", "/exchanges/<string:exchange_id>")`: an HTML route; the function gets a
    WebRequest. Signed-in pages send a visitor without a session to sign in (and back); a
    session that expired says so. Every POST must carry the form's CSRF token."""
    register = Page.decorator(method, url)

    def decorate(fn: Any) -> Any:
        @functools.wraps(fn)
        def route(self: WebRoutes, request: Request, **values: str) -> Response:
            locale = choose_locale(request.cookies.get(LANGUAGE_COOKIE),
                                   request.headers.get("Accept-Language", ""))
            web = WebRequest.start(request, locale,
                                   self.config.get("WEB", {}).get("cookie_secure", True))
            if method == "POST" and not web.csrf_ok():
                return web.finish(error_page(403, N_("The form expired or did not come from "
                                                     "this site; go back, reload and send it "
                                                     "again."), web.locale))
            token = request.cookies.get(SESSION_COOKIE)
            if token:
                try:
                    self.tokens.verify(token)
                    web.token = token
                    request.environ[SESSION_TOKEN] = token
                except Unauthorized:
                    web.forget()
                    if signed_in:
                        return web.finish(redirect(sign_in_url(_back_to(web), expired=True), 303))
            if signed_in and not web.token:
                return web.finish(redirect(sign_in_url(_back_to(web)), 303))
            try:
                if web.token:
                    # Every page shows who is signed in; the account behind a token is kept
                    # a minute (its roles are in the token; its name hardly changes).
                    web.account = ACCOUNTS.get(web.token, lambda: self._call(
                        request, "registration", "get_me"))
                response = fn(self, web, **values)
            except Unauthorized:
                web.forget()
                return web.finish(redirect(sign_in_url(_back_to(web), expired=True), 303))
            except AppError as exc:
                if exc.status in (403, 404, 409, 503, 504):
                    return web.finish(error_page(exc.status, exc.detail, web.locale))
                raise
            return web.finish(response)

        return register(route)

    return decorate


def _back_to(web: WebRequest) -> str:
    """Where to return after signing in: this page, or the page a form was sent from."""
    if web.request.method == "GET":
        return web.path
    referrer = web.request.headers.get("Referer", "")
    host = web.request.host_url
    return referrer[len(host) - 1:] if referrer.startswith(host) else "/dashboard"


ACCOUNTS = TtlCache(60)
PARTNERSHIPS = TtlCache(300, size=1)


class WebRoutes(Routes):
    """Mixed into the gateway; page groups subclass it."""

    def _partnerships(self, web: WebRequest) -> list[dict[str, Any]]:
        """Reference data (the API lets clients cache it for 5 minutes too)."""
        return PARTNERSHIPS.get("all", lambda: self._web(web, "registration", "list_partnerships"))

    def _page(self, web: WebRequest, template: str, status: int = 200, **context: Any) -> Response:
        partial = web.request.headers.get("HX-Request") == "true" and context.pop("partial", None)
        if not partial and web.account:
            context.setdefault("unread", unread_count(self, web))
        ASSETS_DIR[0] = self.config["WEB"]["assets_dir"]
        body = render(web.locale, partial or template, web=web, **context)
        return html(body, status)

    def _web(self, web: WebRequest, service: str, method: str, *args: Any,
             idempotent: bool = False) -> Any:
        """The same RPC the JSON API makes, as the signed-in person (or anonymously)."""
        key = web.form.get("idempotency_key") if idempotent else None
        return self._call(web.request, service, method, *args, auth=bool(web.token),
                          form_key=key)


def see_other(location: str) -> Response:
    return redirect(location, 303)
