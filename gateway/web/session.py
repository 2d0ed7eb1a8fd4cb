"""The browser session: the access token in an HttpOnly cookie, a CSRF token for every form,
a one-time message after a redirect, and where to go back after signing in."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from gateway.web.i18n import LANGUAGE_COOKIE

SESSION_COOKIE = "cxc_session"
CSRF_COOKIE = "cxc_csrf"
FLASH_COOKIE = "cxc_flash"
CSRF_FIELD = "csrf_token"


def safe_next(target: str | None) -> str:
    """Only a path of this site: never another host (`//evil`, `https://...`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/dashboard"
    return target


def sign_in_url(next_path: str, expired: bool = False) -> str:
    return f"/sign-in?next={quote(safe_next(next_path), safe='/')}" + ("&expired=1" if expired else "")


@dataclass
class WebRequest:
    """One page request: the werkzeug request, its form, the signed-in account, the CSRF
    token of its forms and the cookies to set on the answer."""

    request: Request
    locale: str
    secure: bool
    csrf: str = ""
    account: dict[str, Any] | None = None
    token: str | None = None
    flash: dict[str, str] | None = None
    _set_csrf: bool = False
    _cookies: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def start(cls, request: Request, locale: str, secure: bool) -> WebRequest:
        web = cls(request, locale, secure)
        web.csrf = request.cookies.get(CSRF_COOKIE, "")
        if len(web.csrf) < 32:
            web.csrf = secrets.token_urlsafe(32)
            web._set_csrf = True
        raw_flash = request.cookies.get(FLASH_COOKIE)
        if raw_flash:
            kind, _, message = raw_flash.partition(":")
            web.flash = {"kind": kind, "message": message}
        return web

    @property
    def form(self) -> MultiDict:
        return self.request.form

    @property
    def path(self) -> str:
        query = self.request.query_string.decode("latin-1")
        return self.request.path + (f"?{query}" if query else "")

    def csrf_ok(self) -> bool:
        sent = self.form.get(CSRF_FIELD) or self.request.headers.get("X-CSRF-Token", "")
        cookie = self.request.cookies.get(CSRF_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(sent.encode(), cookie.encode())

    def remember(self, token: str, max_age: int) -> None:
        self._cookies.append((SESSION_COOKIE, token, {"max_age": max_age, "httponly": True}))
        # A new session gets a new CSRF token (no token fixed before sign-in survives it).
        self.csrf = secrets.token_urlsafe(32)
        self._set_csrf = True

    def forget(self) -> None:
        self._cookies.append((SESSION_COOKIE, "", {"max_age": 0, "httponly": True}))

    def choose_language(self, locale: str) -> None:
        """The switcher's choice, kept a year; it wins over the browser's Accept-Language."""
        self._cookies.append((LANGUAGE_COOKIE, locale, {"max_age": 365 * 86400, "httponly": True}))

    def say(self, message: str, kind: str = "success") -> None:
        """A message shown once on the next page (after a redirect)."""
        self._cookies.append((FLASH_COOKIE, f"{kind}:{message}", {"max_age": 60}))

    def finish(self, response: Response) -> Response:
        # A redirect passes the message on to the page that shows it (a chain of redirects,
        # such as /registration/new sending on to the registration's step).
        shown = not 300 <= response.status_code < 400
        if self.flash and shown and not any(name == FLASH_COOKIE for name, *_ in self._cookies):
            self._cookies.append((FLASH_COOKIE, "", {"max_age": 0}))
        if self._set_csrf:
            self._cookies.append((CSRF_COOKIE, self.csrf, {"httponly": True}))
        for name, value, options in self._cookies:
            response.set_cookie(name, value, path="/", secure=self.secure, samesite="Lax",
                                **options)
        response.headers.setdefault("Cache-Control", "private, no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'")
        return response
