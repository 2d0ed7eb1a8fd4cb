"""Pages anyone may see: the scheme, the eligibility checker, partnerships, signing up and in."""

from __future__ import annotations

from werkzeug.wrappers import Response

from common.errors import AppError, ValidationFailed
from gateway.web.forms import flatten_errors, nested
from gateway.web.i18n import N_, available_locales
from gateway.web.pages import WebRoutes, error_page, page, see_other
from gateway.web.session import WebRequest, safe_next

ELIGIBILITY_FIELDS = dict(
    scalars=("organisation.type", "organisation.country", "organisation.cluster_name",
             "representative.date_of_birth", "representative.nationality",
             "representative.residence_country"),
    lists=("roles",), integers=("representative.residence_days",),
    booleans=("organisation.cluster_member", "representative.residence_permit"))


class PublicPages(WebRoutes):
    @page("GET", "/", signed_in=False)
    def page_home(self, web: WebRequest) -> Response:
        partnerships = self._partnerships(web)
        return self._page(web, "home.html", title=N_("Exchange know-how with clusters across Europe"),
                          section="home", partnerships=partnerships)

    @page("GET", "/eligibility", signed_in=False)
    def page_eligibility(self, web: WebRequest) -> Response:
        return self._page(web, "eligibility.html", title=N_("Can I take part?"),
                          section="eligibility", answer=None, errors={}, values={})

    @page("POST", "/eligibility", signed_in=False)
    def page_check_eligibility(self, web: WebRequest) -> Response:
        body = nested(web.form, **ELIGIBILITY_FIELDS)
        answer, errors, detail = None, {}, ""
        try:
            answer = self._web(web, "registration", "preview_eligibility", body)
        except ValidationFailed as exc:
            errors, detail = flatten_errors(exc.errors), exc.detail
        return self._page(web, "eligibility.html", status=422 if errors else 200,
                          title=N_("Can I take part?"), section="eligibility", answer=answer,
                          errors=errors, detail=detail, values=web.form,
                          partial="eligibility_answer.html")

    @page("GET", "/partnerships", signed_in=False)
    def page_partnerships(self, web: WebRequest) -> Response:
        found = self._partnerships(web)
        return self._page(web, "partnerships.html", title=N_("Cluster partnerships"),
                          section="partnerships", partnerships=found)

    @page("GET", "/partnerships/<string:code>", signed_in=False)
    def page_partnership(self, web: WebRequest, code: str) -> Response:
        found = self._web(web, "registration", "get_partnership", code)
        return self._page(web, "partnership.html", title=found["name"], section="partnerships",
                          partnership=found)

    @page("GET", "/language/<string:code>", signed_in=False)
    def page_choose_language(self, web: WebRequest, code: str) -> Response:
        """The header's language switcher: a plain link, so it works without JavaScript."""
        if code not in available_locales():
            return error_page(404, N_("No such page."), web.locale)
        web.choose_language(code)
        back = web.request.args.get("next")
        return see_other(safe_next(back) if back else "/")

    # --- accounts ---------------------------------------------------------------------

    @page("GET", "/sign-up", signed_in=False)
    def page_sign_up_form(self, web: WebRequest) -> Response:
        return self._page(web, "sign_up.html", title=N_("Create an account"), errors={},
                          values={})

    @page("GET", "/sign-in", signed_in=False)
    def page_sign_in_form(self, web: WebRequest) -> Response:
        expired = web.request.args.get("expired") == "1"
        return self._page(web, "sign_in.html", title=N_("Sign in"), errors={}, detail="",
                          expired=expired, next=safe_next(web.request.args.get("next")),
                          values={})

    @page("POST", "/sign-in", signed_in=False)
    def page_sign_in(self, web: WebRequest) -> Response:
        target = safe_next(web.form.get("next"))
        body = {"email": (web.form.get("email") or "").strip(),
                "password": web.form.get("password") or ""}
        try:
            self.limits.check("login", web.request.remote_addr or "?")
            token = self._web(web, "registration", "create_token", body)
        except AppError as exc:
            if exc.status not in (401, 422, 429):
                raise
            return self._page(web, "sign_in.html", status=exc.status, title=N_("Sign in"),
                              errors=flatten_errors(exc.errors), detail=exc.detail,
                              expired=False, next=target, values={"email": body["email"]})
        web.remember(token["access_token"], token["expires_in"])
        return see_other(target)
