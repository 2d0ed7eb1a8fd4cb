"""Pages of one's account: signing up (then checking one's email), following the verification
and password-reset links of the account emails, the account page, and signing out for real
(the session's token is revoked, not only its cookie cleared). The same RPCs as gateway/routes/accounts.py."""

from __future__ import annotations

from werkzeug.wrappers import Response

from common.errors import AppError, ValidationFailed
from gateway.web.forms import flatten_errors, nested
from gateway.web.i18n import N_
from gateway.web.pages import ACCOUNTS, WebRoutes, _back_to, page, see_other
from gateway.web.session import WebRequest

AFTER_VERIFYING = "/registration/new"


class AccountPages(WebRoutes):
    @page("POST", "/sign-up", signed_in=False)
    def page_sign_up(self, web: WebRequest) -> Response:
        """Every sign-up answers "check your email", a known address too: the page never tells
        whether an address is registered (its owner gets a note instead of a link)."""
        body = nested(web.form, scalars=("email", "full_name", "password"))
        body["language"] = web.locale
        try:
            self.limits.check("signup", self.limits.client(web.request))
            sent = self._call(web.request, "registration", "create_account", body, auth=False,
                              form_key=web.form.get("idempotency_key"))
        except (ValidationFailed, AppError) as exc:
            if exc.status not in (422, 429):
                raise
            return self._page(web, "sign_up.html", status=exc.status, title=N_("Create an account"),
                              errors=flatten_errors(exc.errors), detail=exc.detail,
                              values={k: v for k, v in web.form.items() if k != "password"})
        return self._page(web, "check_email.html", title=N_("Check your email"),
                          email=sent.get("email", ""), purpose="verify")

    # --- the verification link ----------------------------------------------------------

    @page("GET", "/account/verify", signed_in=False)
    def page_verify_email(self, web: WebRequest) -> Response:
        token = web.request.args.get("token", "")
        try:
            self.limits.check("account_email", self.limits.client(web.request))
            self._call(web.request, "registration", "verify_email", {"token": token}, auth=False)
        except (ValidationFailed, AppError) as exc:
            if exc.status not in (422, 429):
                raise
            return self._page(web, "verified.html", status=exc.status,
                              title=N_("This link does not work"), verified=False)
        if web.token:
            ACCOUNTS.forget(web.token)
            web.say(N_("Your email address is verified. You can submit your registration."))
            return see_other(AFTER_VERIFYING)
        return self._page(web, "verified.html", title=N_("Your email address is verified"),
                          verified=True, next=AFTER_VERIFYING)

    @page("POST", "/account/verify/resend")
    def page_resend_verification(self, web: WebRequest) -> Response:
        try:
            self.limits.check("account_email", self.limits.client(web.request))
            self._web(web, "registration", "resend_verification")
            web.say(N_("We sent a new verification email. Follow its link to verify your "
                       "address."))
        except AppError as exc:
            if exc.status not in (409, 429):
                raise
            ACCOUNTS.forget(web.token or "")
            web.say(exc.detail, "warning")
        return see_other(_back_to(web))

    # --- password reset -----------------------------------------------------------------

    @page("GET", "/account/reset", signed_in=False)
    def page_reset(self, web: WebRequest) -> Response:
        token = web.request.args.get("token")
        if token:
            return self._page(web, "reset.html", title=N_("Choose a new password"), token=token,
                              errors={}, detail="", values={})
        return self._page(web, "reset.html", title=N_("Forgot your password?"), token=None,
                          errors={}, detail="", values={})

    @page("GET", "/account/invitation", signed_in=False)
    def page_invitation(self, web: WebRequest) -> Response:
        """Where an invitation's link lands: the reset form, worded for a first password."""
        return self._page(web, "reset.html", title=N_("Choose your password"),
                          token=web.request.args.get("token") or None, invitation=True,
                          errors={}, detail="", values={})

    @page("POST", "/account/reset", signed_in=False)
    def page_request_reset(self, web: WebRequest) -> Response:
        body = {"email": (web.form.get("email") or "").strip()}
        try:
            self.limits.check("account_email", self.limits.client(web.request))
            self._call(web.request, "registration", "request_password_reset", body, auth=False)
        except (ValidationFailed, AppError) as exc:
            if exc.status not in (422, 429):
                raise
            return self._page(web, "reset.html", status=exc.status,
                              title=N_("Forgot your password?"), token=None,
                              errors=flatten_errors(exc.errors), detail=exc.detail, values=body)
        return self._page(web, "check_email.html", title=N_("Check your email"),
                          email=body["email"], purpose="reset")

    @page("POST", "/account/reset/confirm", signed_in=False)
    def page_confirm_reset(self, web: WebRequest) -> Response:
        token = web.form.get("token") or ""
        body = {"token": token, "new_password": web.form.get("new_password") or ""}
        invitation = web.form.get("invitation") == "1"
        try:
            self.limits.check("account_email", self.limits.client(web.request))
            self._call(web.request, "registration", "confirm_password_reset", body, auth=False)
        except (ValidationFailed, AppError) as exc:
            if exc.status not in (422, 429):
                raise
            title = N_("Choose your password") if invitation else N_("Choose a new password")
            return self._page(web, "reset.html", status=exc.status, title=title, token=token,
                              invitation=invitation, errors=flatten_errors(exc.errors),
                              detail=exc.detail, values={})
        # Every session of the account was signed out, this browser's too.
        if web.token:
            ACCOUNTS.forget(web.token)
        web.forget()
        web.say(N_("Your password is set. Sign in with it.") if invitation else
                N_("Your password is changed. Sign in with it."))
        return see_other("/sign-in")

    # --- the account page -----------------------------------------------------------------

    @page("GET", "/account")
    def page_account(self, web: WebRequest) -> Response:
        return self._page(web, "account.html", title=N_("Your account"), section="account")

    # --- signing out --------------------------------------------------------------------

    @page("POST", "/sign-out", signed_in=False)
    def page_sign_out(self, web: WebRequest) -> Response:
        self._revoke(web, "sign_out")
        web.say(N_("You have signed out."), "info")
        return see_other("/")

    @page("POST", "/sign-out-everywhere")
    def page_sign_out_everywhere(self, web: WebRequest) -> Response:
        self._revoke(web, "sign_out_everywhere")
        web.say(N_("You have signed out on every device."), "info")
        return see_other("/")

    def _revoke(self, web: WebRequest, method: str) -> None:
        """The token stops working everywhere before the cookie goes: a copy of the cookie
        left on the device cannot be used again."""
        if web.token:
            self._web(web, "registration", method)
            ACCOUNTS.forget(web.token)
        web.forget()

