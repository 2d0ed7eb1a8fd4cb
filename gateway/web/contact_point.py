"""A partnership contact point's pages: registrations to assess, exchanges to validate and
sign, payment claims and their evidence to review, payouts and payment runs (SEPA).

Administrator and support-office pages will sit beside these (gateway/web/admin.py,
gateway/web/support.py), with their own section of the navigation in base.html.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from common.errors import AppError
from gateway.routes.payments import PaymentRoutes
from gateway.web.forms import flatten_errors
from gateway.web.i18n import N_
from gateway.web.pages import WebRoutes, page, see_other
from gateway.web.session import WebRequest

FORM_ERRORS = (400, 409, 422, 428)


class ContactPointPages(WebRoutes):
    @page("GET", "/contact-point")
    def page_cp_queue(self, web: WebRequest) -> Response:
        status = web.request.args.get("status") or "submitted"
        found = self._web(web, "registration", "list_registrations",
                          {"status": status, "per_page": "100"})
        return self._page(web, "cp_queue.html", title=N_("Registrations to assess"),
                          section="queue", registrations=found["items"], total=found["total"],
                          filter_status=status)

    @page("GET", "/contact-point/registrations/<string:registration_id>")
    def page_cp_assessment(self, web: WebRequest, registration_id: str) -> Response:
        return self._assessment(web, registration_id, {}, "")

    def _assessment(self, web: WebRequest, registration_id: str, errors: dict, detail: str,
                    status: int = 200) -> Response:
        registration = self._web(web, "registration", "get_registration", registration_id)
        eligibility = self._web(web, "registration", "check_eligibility", registration_id)
        return self._page(web, "cp_assess.html", status=status, title=N_("Assess a registration"),
                          section="queue", registration=registration, eligibility=eligibility,
                          errors=errors, detail=detail)

    @page("POST", "/contact-point/registrations/<string:registration_id>")
    def page_cp_assess(self, web: WebRequest, registration_id: str) -> Response:
        version = web.form.get("version", "")
        body = {"decision": web.form.get("decision", ""),
                "comment": (web.form.get("comment") or "").strip() or None,
                **({"version": int(version)} if version.isdigit() else {})}
        try:
            self._web(web, "registration", "assess_registration", registration_id, body)
        except AppError as exc:
            if exc.status not in FORM_ERRORS:
                raise
            return self._assessment(web, registration_id, flatten_errors(exc.errors), exc.detail,
                                    exc.status)
        web.say(ASSESSED.get(body["decision"], N_("Your decision is recorded.")))
        return see_other("/contact-point")

    @page("GET", "/contact-point/exchanges")
    def page_cp_exchanges(self, web: WebRequest) -> Response:
        status = web.request.args.get("status") or ""
        query = {"per_page": "100", **({"status": status} if status else {})}
        found = self._web(web, "agreements", "list_exchanges", query)["items"]
        to_act = [x for x in found if {"validate", "sign", "sign_financial_agreement"}
                  & set(x["allowed_actions"])]
        return self._page(web, "cp_exchanges.html", title=N_("Exchanges to validate and sign"),
                          section="cp-exchanges", to_act=to_act, exchanges=found, filter_status=status)

    # --- payments -----------------------------------------------------------------------

    @page("GET", "/contact-point/payments")
    def page_cp_payments(self, web: WebRequest) -> Response:
        claims = self._web(web, "payments", "list_claims", {"state": "submitted", "per_page": "100"})
        payouts = self._web(web, "payments", "list_payouts", {"per_page": "100"})
        batches = self._web(web, "payments", "list_batches", {"per_page": "50"})
        return self._page(web, "cp_payments.html", title=N_("Payments"), section="cp-payments",
                          claims=claims["items"], payouts=payouts["items"],
                          batches=batches["items"])

    @page("GET", "/contact-point/claims/<string:exchange_id>")
    def page_cp_claim(self, web: WebRequest, exchange_id: str) -> Response:
        claim = self._web(web, "payments", "get_claim", exchange_id)
        return self._page(web, "cp_claim.html", title=N_("Review a payment claim"),
                          section="cp-payments", claim=claim)

    @page("GET", "/contact-point/claims/<string:exchange_id>/evidence/<string:evidence_id>")
    def page_cp_evidence(self, web: WebRequest, exchange_id: str, evidence_id: str) -> Response:
        return PaymentRoutes.download_evidence.__wrapped__(self, web.request, exchange_id,
                                                           evidence_id)

    @page("POST", "/contact-point/claims/<string:exchange_id>")
    def page_cp_review_claim(self, web: WebRequest, exchange_id: str) -> Response:
        approve = web.form.get("decision") == "approve"
        version = web.form.get("version", "")
        body = {"comment": (web.form.get("comment") or "").strip() or None,
                **({"version": int(version)} if version.isdigit() else {})}
        try:
            self._web(web, "payments", "approve_claim" if approve else "request_claim_changes",
                      exchange_id, body, idempotent=True)
        except AppError as exc:
            if exc.status not in FORM_ERRORS:
                raise
            web.say(" ".join([exc.detail, *[m for ms in flatten_errors(exc.errors).values()
                                            for m in ms]]), "error")
            return see_other(f"/contact-point/claims/{exchange_id}")
        web.say(N_("The claim is approved: its payout waits for the next payment run.") if approve
                else N_("The claim is sent back to the visitor."))
        return see_other("/contact-point/payments")

    @page("POST", "/contact-point/payment-batches")
    def page_cp_create_batch(self, web: WebRequest) -> Response:
        try:
            batch = self._web(web, "payments", "create_batch", {}, idempotent=True)
        except AppError as exc:
            if exc.status not in FORM_ERRORS:
                raise
            web.say(exc.detail, "error")
            return see_other("/contact-point/payments")
        web.say(N_("The payment run is ready: download its SEPA file for the bank."))
        return see_other(f"/contact-point/payments#batch-{batch['id']}")

    @page("GET", "/contact-point/payment-batches/<string:batch_id>/sepa.xml")
    def page_cp_sepa(self, web: WebRequest, batch_id: str) -> Response:
        return PaymentRoutes.sepa_file.__wrapped__(self, web.request, batch_id)

    @page("POST", "/contact-point/payment-batches/<string:batch_id>/mark-paid")
    def page_cp_mark_paid(self, web: WebRequest, batch_id: str) -> Response:
        self._web(web, "payments", "mark_batch_paid", batch_id, idempotent=True)
        web.say(N_("The payment run is marked as paid."))
        return see_other("/contact-point/payments")


ASSESSED = {
    "accept": N_("The registration is accepted; the participant can now find partners."),
    "reject": N_("The registration is rejected."),
    "request_changes": N_("The participant is asked for changes."),
}
