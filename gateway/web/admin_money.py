"""The administrators' money pages: the lump-sum table (its figures, their changes, a new
figure from a date on, a quote to try it) and the partnerships' budgets (the envelope set
against the version read, the bank account payment runs are paid from).

The same RPCs as gateway/routes/payments.py; the payments service checks the role again.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.wrappers import Response

from common.errors import AppError
from gateway.web.admin import require_admin
from gateway.web.forms import flatten_errors, nested
from gateway.web.i18n import N_, translations
from gateway.web.pages import WebRoutes, page, see_other
from gateway.web.session import WebRequest

FORM_ERRORS = (400, 409, 422, 428)
QUOTE_FIELDS = ("host_country", "working_days", "mode", "distance_km", "on_date")
_EUROS = re.compile(r"^(\d{1,11})(?:[.,](\d{1,2}))?$")


def cents_from(raw: str | None) -> int | None:
    """An amount typed in euros ("780", "780.5", "1 100,00 €") in cents; None if it is not one."""
    text = re.sub(r"[\s€]", "", raw or "")
    found = _EUROS.match(text)
    if not found:
        return None
    whole, fraction = found.groups()
    return int(whole) * 100 + int((fraction or "0").ljust(2, "0"))


def euros_field(cents: int | None) -> str:
    """Cents as the form shows them back: "780" or "780.50"."""
    if cents is None:
        return ""
    return f"{cents // 100}" if cents % 100 == 0 else f"{cents // 100}.{cents % 100:02d}"


def said(web: WebRequest, message: str) -> str:
    """A message of this module in the page's language (field errors are shown as given)."""
    return translations(web.locale).gettext(message)


def _account_errors(exc: AppError) -> dict[str, list[str]]:
    """The bank account's errors by field: the IBAN check names the account, not the field."""
    errors = flatten_errors(exc.errors)
    for key in [k for k in errors if k not in ("name", "iban", "bic")]:
        messages = errors.pop(key)
        field = "bic" if any("BIC" in m for m in messages) else "iban"
        errors.setdefault(field, []).extend(messages)
    return errors


def _amount_errors(exc: AppError, cents_field: str, form_field: str) -> dict[str, list[str]]:
    """The service's field errors, with its cents field named as the form's euro field."""
    errors = flatten_errors(exc.errors)
    if cents_field in errors:
        errors[form_field] = errors.pop(cents_field)
    return errors


class AdminMoneyPages(WebRoutes):
    # --- the lump-sum table -------------------------------------------------------------

    @page("GET", "/admin/lump-sums")
    def page_admin_lump_sums(self, web: WebRequest) -> Response:
        require_admin(web)
        return self._admin_lump_sums(web, {}, "", {})

    def _admin_lump_sums(self, web: WebRequest, errors: dict[str, list[str]], detail: str,
                   values: dict[str, Any], status: int = 200, quote: dict[str, Any] | None = None,
                   quote_detail: str = "", quoted: dict[str, Any] | None = None) -> Response:
        table = self._web(web, "payments", "list_lump_sums")
        country = web.request.args.get("country") or None
        changes = self._web(web, "payments", "list_lump_sum_changes",
                            {"country": country} if country else {})
        return self._page(web, "admin_lump_sums.html", status=status, title=N_("Lump sums"),
                          section="admin", table=table, changes=changes, errors=errors,
                          detail=detail, values=values, quote=quote, quote_detail=quote_detail,
                          quoted=quoted or {}, country=country,
                          countries=sorted({(r["country"], r["country_name"])
                                            for r in table["rates"]}, key=lambda c: c[1]))

    @page("POST", "/admin/lump-sums")
    def page_admin_set_lump_sum(self, web: WebRequest) -> Response:
        require_admin(web)
        values = {k: (web.form.get(k) or "").strip() for k in ("country", "amount", "valid_from",
                                                                "reason")}
        amount = cents_from(values["amount"])
        if amount is None:
            errors = {"amount": [said(web, N_("Enter an amount in euros, such as 780 or 780.50."))]}
            return self._admin_lump_sums(web, errors, N_("The new figure is not complete."), values, 422)
        body = {**nested(web.form, scalars=("country", "valid_from")), "amount_cents": amount,
                "reason": values["reason"]}
        try:
            saved = self._web(web, "payments", "set_lump_sum", body, idempotent=True)
        except AppError as exc:
            if exc.status not in FORM_ERRORS:
                raise
            return self._admin_lump_sums(web, _amount_errors(exc, "amount_cents", "amount"), exc.detail,
                                   values, exc.status)
        rate = saved["rate"]
        web.say(N_("The new figure is in the table."))
        return see_other(f"/admin/lump-sums?country={rate['country']}#changes")

    @page("GET", "/admin/lump-sums/quote")
    def page_admin_quote(self, web: WebRequest) -> Response:
        """The quote for what the form says: a fragment for htmx, the whole page without it."""
        require_admin(web)
        query = {k: v.strip() for k in QUOTE_FIELDS if (v := web.request.args.get(k) or "").strip()}
        quote, detail, errors = None, "", {}
        try:
            quote = self._web(web, "payments", "quote", query)
        except AppError as exc:
            if exc.status != 422:
                raise
            detail, errors = exc.detail, flatten_errors(exc.errors)
        if web.request.headers.get("HX-Request") == "true":
            return self._page(web, "admin_quote.html", partial="admin_quote.html", quote=quote,
                              quote_detail=detail, quote_errors=errors)
        return self._admin_lump_sums(web, {}, "", {}, quote=quote, quote_detail=detail, quoted=query)

    # --- budgets --------------------------------------------------------------------------

    @page("GET", "/admin/budgets")
    def page_admin_budgets(self, web: WebRequest) -> Response:
        require_admin(web)
        budgets = {b["partnership_id"]: b for b in self._web(
            web, "payments", "list_budgets", {"per_page": "100"})["items"]}
        rows = [(p, budgets.get(p["id"])) for p in self._partnerships(web)]
        totals = {key: sum(b[key] for b in budgets.values())
                  for key in ("budget_cents", "reserved_cents", "paid_cents", "available_cents")}
        return self._page(web, "admin_budgets.html", title=N_("Partnership budgets"),
                          section="admin", rows=rows, totals=totals)

    @page("GET", "/admin/budgets/<string:partnership_id>")
    def page_admin_budget(self, web: WebRequest, partnership_id: str) -> Response:
        require_admin(web)
        return self._admin_budget(web, partnership_id)

    def _admin_budget(self, web: WebRequest, partnership_id: str, status: int = 200,
                errors: dict[str, list[str]] | None = None, detail: str = "",
                values: dict[str, Any] | None = None, stale: bool = False,
                account_errors: dict[str, list[str]] | None = None, account_detail: str = "",
                account_values: dict[str, Any] | None = None) -> Response:
        partnership = self._admin_partnership(web, partnership_id)
        budget = self._admin_if_set(web, "get_budget", partnership_id)
        account = self._admin_if_set(web, "get_debtor_account", partnership_id)
        values = values or {"budget": euros_field(budget["budget_cents"]) if budget else ""}
        return self._page(web, "admin_budget.html", status=status,
                          title=N_("Budget of %(name)s"), section="admin", partnership=partnership,
                          budget=budget, account=account, errors=errors or {}, detail=detail,
                          values=values, stale=stale, account_errors=account_errors or {},
                          account_detail=account_detail, account_values=account_values or {})

    def _admin_partnership(self, web: WebRequest, partnership_id: str) -> dict[str, Any]:
        for partnership in self._partnerships(web):
            if partnership["id"] == partnership_id:
                return partnership
        # Not in the cached list: registration says whether it exists (404 if not).
        return self._web(web, "registration", "get_partnership", partnership_id)

    def _admin_if_set(self, web: WebRequest, method: str, partnership_id: str) -> Any:
        """No envelope, or no bank account, yet: the page offers to set it."""
        try:
            return self._web(web, "payments", method, partnership_id)
        except AppError as exc:
            if exc.status != 404:
                raise
            return None

    @page("POST", "/admin/budgets/<string:partnership_id>")
    def page_admin_set_budget(self, web: WebRequest, partnership_id: str) -> Response:
        require_admin(web)
        values = {"budget": (web.form.get("budget") or "").strip()}
        amount = cents_from(values["budget"])
        if amount is None:
            return self._admin_budget(web, partnership_id, 422, {"budget": [
                said(web, N_("Enter an amount in euros, such as 50000 or 50000.50."))]},
                N_("The envelope is not a valid amount."), values)
        version = web.form.get("version", "")
        body = {"budget_cents": amount, **({"version": int(version)} if version.isdigit() else {})}
        try:
            self._web(web, "payments", "set_budget", partnership_id, body, idempotent=True)
        except AppError as exc:
            if exc.status not in FORM_ERRORS:
                raise
            stale = exc.status == 409 and "version" in (exc.errors or {})
            errors = {} if stale else _amount_errors(exc, "budget_cents", "budget")
            detail = (N_("Someone set this envelope after you opened the page. Below are the "
                         "current figures; check them and send your change again.")
                      if stale else exc.detail)
            return self._admin_budget(web, partnership_id, exc.status, errors, detail, values, stale)
        web.say(N_("The envelope is set."))
        return see_other(f"/admin/budgets/{partnership_id}")

    @page("POST", "/admin/budgets/<string:partnership_id>/debtor-account")
    def page_admin_set_debtor_account(self, web: WebRequest, partnership_id: str) -> Response:
        require_admin(web)
        body = nested(web.form, scalars=("name", "iban", "bic"))
        try:
            self._web(web, "payments", "set_debtor_account", partnership_id, body)
        except AppError as exc:
            if exc.status not in FORM_ERRORS:
                raise
            return self._admin_budget(web, partnership_id, exc.status,
                                account_errors=_account_errors(exc),
                                account_detail=exc.detail,
                                account_values={k: v for k, v in body.items() if k != "iban"})
        web.say(N_("The bank account for payment runs is saved."))
        return see_other(f"/admin/budgets/{partnership_id}#account-title")
