"""An exchange in the browser: the builder, the plan and its working days, the signing
dashboard, the financial agreement, the closing report and the payment claim."""

from __future__ import annotations

import logging
from typing import Any

from werkzeug.wrappers import Response

from common.errors import AppError
from gateway.routes.agreements import AgreementRoutes
from gateway.routes.payments import PaymentRoutes
from gateway.web import timeline
from gateway.web.forms import flatten_errors, nested
from gateway.web.i18n import N_, translations
from gateway.web.pages import WebRoutes, page, see_other
from gateway.web.session import WebRequest

log = logging.getLogger(__name__)

PLAN_FIELDS = dict(
    scalars=("plan.mode", "plan.start_date", "plan.end_date", "plan.expected_outcomes",
             "plan.responsibilities.visitor", "plan.responsibilities.host"),
    integers=("plan.travel_days_before", "plan.travel_days_after"),
    lists=("plan.objectives", "plan.activity_types", "plan.languages"))
ACTION_ITEMS = 5  # rows of the action plan the form offers
FORM_ERRORS = (400, 409, 413, 415, 422, 428)
CLAIMED = ("reported", "approved", "paid", "closed")  # states in which a payment claim exists


def plan_from(web: WebRequest) -> dict[str, Any]:
    body = nested(web.form, **PLAN_FIELDS)
    items = []
    for index in range(ACTION_ITEMS):
        title = (web.form.get(f"action.{index}.title") or "").strip()
        if title:
            items.append({"date": web.form.get(f"action.{index}.date") or None, "title": title,
                          "description": (web.form.get(f"action.{index}.description") or "").strip()
                          or None})
    body.setdefault("plan", {})["action_plan"] = items
    return body["plan"]


class ExchangePages(WebRoutes):
    @page("GET", "/exchanges")
    def page_exchanges(self, web: WebRequest) -> Response:
        found = self._web(web, "agreements", "list_exchanges", {"per_page": "100"})["items"]
        return self._page(web, "exchanges.html", title=N_("Exchanges"), section="exchanges",
                          exchanges=found)

    @page("GET", "/exchanges/new")
    def page_exchange_builder(self, web: WebRequest) -> Response:
        contact = self._web(web, "matching", "get_contact", web.request.args.get("contact_id", ""))
        return self._builder(web, contact, None, {}, "", {})

    @page("POST", "/exchanges/new")
    def page_propose(self, web: WebRequest) -> Response:
        contact = self._web(web, "matching", "get_contact", web.form.get("contact_id", ""))
        body = {"contact_id": contact["id"], "plan": plan_from(web)}
        if web.form.get("role"):
            body["role"] = web.form["role"]
        try:
            created = self._web(web, "agreements", "propose_exchange", body, idempotent=True)
        except AppError as exc:
            if exc.status not in FORM_ERRORS:
                raise
            return self._builder(web, contact, None, flatten_errors(exc.errors), exc.detail,
                                 body["plan"], exc.status)
        web.say(N_("Your proposal is sent; the other organisation confirms it."))
        return see_other(f"/exchanges/{created['id']}")

    def _builder(self, web: WebRequest, contact: dict[str, Any] | None,
                 exchange: dict[str, Any] | None, errors: dict[str, list[str]], detail: str,
                 plan: dict[str, Any], status: int = 200) -> Response:
        return self._page(web, "exchange_builder.html", status=status,
                          title=N_("Plan the exchange") if exchange else N_("Propose an exchange"),
                          section="exchanges", contact=contact, exchange=exchange, errors=errors,
                          detail=detail, plan=plan, rows=ACTION_ITEMS)

    @page("GET", "/exchanges/<string:exchange_id>")
    def page_exchange(self, web: WebRequest, exchange_id: str) -> Response:
        exchange = self._web(web, "agreements", "get_exchange", exchange_id)
        checks = self._web(web, "agreements", "check_plan", exchange_id)
        agreement = claim = None
        if exchange["status"] in ("signed", "ready", "in_progress", "completed", "reported",
                                  "approved", "paid", "closed"):
            agreement = self._optional(web, "agreements", "get_financial_agreement", exchange_id)
        if exchange["status"] in CLAIMED:
            claim = self._optional(web, "payments", "get_claim", exchange_id)
        return self._page(web, "exchange.html", title=exchange["reference"], section="exchanges",
                          exchange=exchange, checks=checks, agreement=agreement, claim=claim,
                          errors={}, detail="")

    @page("GET", "/exchanges/<string:exchange_id>/timeline")
    def page_exchange_timeline(self, web: WebRequest, exchange_id: str) -> Response:
        exchange = self._web(web, "agreements", "get_exchange", exchange_id)
        entries = self._web(web, "agreements", "get_timeline", exchange_id)
        claim = None
        if exchange["status"] in CLAIMED:
            claim = self._optional(web, "payments", "get_claim", exchange_id)
        return self._page(web, "exchange_timeline.html", title=exchange["reference"],
                          section="exchanges", exchange=exchange,
                          steps=timeline.steps(entries, claim, translations(web.locale).gettext,
                                               web.locale))

    def _optional(self, web: WebRequest, service: str, method: str, *args: Any) -> Any:
        """What this person may not see (or what does not exist yet) is simply not shown."""
        try:
            return self._web(web, service, method, *args)
        except AppError as exc:
            if exc.status in (403, 404, 409):
                log.info("%s not shown on the page: %s", method, exc.detail)
                return None
            raise

    @page("GET", "/exchanges/<string:exchange_id>/plan")
    def page_edit_plan(self, web: WebRequest, exchange_id: str) -> Response:
        exchange = self._web(web, "agreements", "get_exchange", exchange_id)
        return self._builder(web, None, exchange, {}, "", exchange["plan"])

    @page("POST", "/exchanges/<string:exchange_id>/plan")
    def page_save_plan(self, web: WebRequest, exchange_id: str) -> Response:
        body = {"plan": plan_from(web), "version": _int(web.form.get("version"))}
        try:
            self._web(web, "agreements", "update_exchange", exchange_id, body)
        except AppError as exc:
            if exc.status not in FORM_ERRORS:
                raise
            exchange = self._web(web, "agreements", "get_exchange", exchange_id)
            return self._builder(web, None, exchange, flatten_errors(exc.errors), exc.detail,
                                 body["plan"], exc.status)
        web.say(N_("The plan is saved."))
        return see_other(f"/exchanges/{exchange_id}")

    @page("GET", "/exchanges/<string:exchange_id>/working-days")
    def page_working_days(self, web: WebRequest, exchange_id: str) -> Response:
        query = {k.removeprefix("plan."): v for k, v in web.request.args.items() if v}
        days, detail = None, ""
        if query.get("start_date") and query.get("end_date"):
            try:
                days = self._web(web, "agreements", "working_days", exchange_id, {
                    "start_date": query["start_date"], "end_date": query["end_date"]})
            except AppError as exc:
                if exc.status != 422:
                    raise
                detail = exc.detail
        return self._page(web, "working_days.html", days=days, detail=detail)

    @page("POST", "/exchanges/<string:exchange_id>/<string:action>")
    def page_act(self, web: WebRequest, exchange_id: str, action: str) -> Response:
        """One button of the exchange's page: what the JSON API's route of that name does."""
        version = _int(web.form.get("version"))
        calls = {
            "confirm": ("confirm_exchange", lambda: {"version": version} if version else {}),
            "decline": ("decline_exchange", lambda: {"version": version} if version else {}),
            "submit": ("submit_exchange", lambda: version),
            "validation": ("validate_exchange", lambda: {k: v for k, v in {
                "decision": web.form.get("decision"), "comment": web.form.get("comment") or None,
                "version": version}.items() if v is not None}),
            "sign": ("sign_commitment", lambda: {"document_sha256": web.form.get("document_sha256", "")}),
            "bank-account": ("set_bank_details", lambda: nested(web.form, scalars=(
                "account_holder", "iban", "bic"))),
            "sign-financial-agreement": ("sign_financial_agreement", lambda: version),
            "closing-report": ("submit_closing_report", lambda: _report(web)),
        }
        if action not in calls:
            return self._not_found(web)
        method, argument = calls[action]
        extra = ([{"ip": web.request.remote_addr or "",
                   "user_agent": web.request.headers.get("User-Agent", "")}]
                 if action == "sign" else [])
        try:
            self._web(web, "agreements", method, exchange_id, argument(), *extra)
        except AppError as exc:
            if exc.status not in FORM_ERRORS:
                raise
            messages = [exc.detail, *[m for ms in flatten_errors(exc.errors).values() for m in ms]]
            web.say(" ".join(messages), "error")
            return see_other(f"/exchanges/{exchange_id}")
        web.say(DONE.get(action, N_("Done.")))
        return see_other(f"/exchanges/{exchange_id}")

    def _not_found(self, web: WebRequest) -> Response:
        from gateway.web.pages import error_page
        return error_page(404, N_("No such page."), web.locale)

    @page("GET", "/exchanges/<string:exchange_id>/commitment.pdf")
    def page_commitment_pdf(self, web: WebRequest, exchange_id: str) -> Response:
        return AgreementRoutes.commitment.__wrapped__(self, web.request, exchange_id)

    # --- the payment claim --------------------------------------------------------------

    @page("POST", "/exchanges/<string:exchange_id>/claim/evidence")
    def page_add_evidence(self, web: WebRequest, exchange_id: str) -> Response:
        try:
            PaymentRoutes.upload_evidence.__wrapped__(self, web.request, exchange_id)
        except AppError as exc:
            if exc.status not in FORM_ERRORS:
                raise
            web.say(exc.detail, "error")
            return see_other(f"/exchanges/{exchange_id}")
        web.say(N_("The evidence is added."))
        return see_other(f"/exchanges/{exchange_id}")

    @page("POST", "/exchanges/<string:exchange_id>/claim/submit")
    def page_submit_claim(self, web: WebRequest, exchange_id: str) -> Response:
        try:
            self._web(web, "payments", "submit_claim", exchange_id,
                      {"version": _int(web.form.get("version"))})
        except AppError as exc:
            if exc.status not in FORM_ERRORS:
                raise
            web.say(exc.detail, "error")
            return see_other(f"/exchanges/{exchange_id}")
        web.say(N_("Your payment claim is submitted to your contact point."))
        return see_other(f"/exchanges/{exchange_id}")


DONE = {
    "confirm": N_("You confirmed the proposal: the plan can now be prepared."),
    "decline": N_("You declined the proposal."),
    "submit": N_("The plan is submitted to both partnerships."),
    "validation": N_("Your decision is recorded."),
    "sign": N_("You signed the commitment to quality."),
    "bank-account": N_("The bank account is saved."),
    "sign-financial-agreement": N_("You signed the financial agreement."),
    "closing-report": N_("Your closing report is submitted."),
}


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


def _report(web: WebRequest) -> dict[str, Any]:
    outcomes = [{"objective": objective, "achieved": web.form.get(f"achieved.{objective}") or "yes",
                 "comment": web.form.get(f"comment.{objective}") or None}
                for objective in web.form.getlist("objective")]
    body: dict[str, Any] = {"outcomes": outcomes, "follow_up": web.form.get("follow_up") or None}
    satisfaction = _int(web.form.get("satisfaction"))
    if satisfaction is not None:
        body["satisfaction"] = satisfaction
    return body
