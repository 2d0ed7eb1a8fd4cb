"""Payments: the lump-sum table, budgets, payment claims and their evidence, payouts and
payment runs with their SEPA files."""

from __future__ import annotations

import logging

from werkzeug.wrappers import Request, Response

from common.errors import AppError
from common.storage import safe_filename
from gateway.http import api, json_response
from gateway.requests import json_body, optional_json_body, query_args, upload_bytes
from gateway.routes.base import (
    V1,
    Routes,
    caller_token,
    content_disposition,
    paged,
    versioned,
    with_etag,
)
from services.payments import schemas as pay
from services.payments.evidence import EVIDENCE_TYPES, JPEG, PDF, PNG, check_evidence

log = logging.getLogger(__name__)

CLAIM = f"{V1}/payments/<string:exchange_id>"
PAYOUT = f"{V1}/payouts/<string:payout_id>"
BATCH = f"{V1}/payment-batches/<string:batch_id>"
XML = "application/xml"
WRITE_ERRORS = (400, 401, 403, 404, 409, 422)
_CLAIM_ID = {"exchange_id": "$response.body#/exchange_id"}
_CLAIM_OP = "api_v1_payments_by_exchange_id"
CLAIM_LINKS = {
    "GetClaim": {"operationId": f"get_{_CLAIM_OP}", "parameters": _CLAIM_ID},
    "UploadEvidence": {"operationId": f"post_{_CLAIM_OP}_evidence", "parameters": _CLAIM_ID},
    "SubmitClaim": {"operationId": f"post_{_CLAIM_OP}_submit", "parameters": _CLAIM_ID},
    "ApproveClaim": {"operationId": f"post_{_CLAIM_OP}_approve", "parameters": _CLAIM_ID},
    "RequestChanges": {"operationId": f"post_{_CLAIM_OP}_request_changes",
                       "parameters": _CLAIM_ID},
}
_PAYOUT_ID = {"payout_id": "$response.body#/id"}
PAYOUT_LINKS = {
    "GetPayout": {"operationId": "get_api_v1_payouts_by_payout_id", "parameters": _PAYOUT_ID},
    "FailPayout": {"operationId": "post_api_v1_payouts_by_payout_id_fail",
                   "parameters": _PAYOUT_ID},
    "GetClaim": {"operationId": f"get_{_CLAIM_OP}", "parameters": _CLAIM_ID},
}
_BATCH_ID = {"batch_id": "$response.body#/id"}
_BATCH_OP = "api_v1_payment_batches_by_batch_id"
BATCH_LINKS = {
    "GetBatch": {"operationId": f"get_{_BATCH_OP}", "parameters": _BATCH_ID},
    "SepaFile": {"operationId": f"get_{_BATCH_OP}_sepa_xml", "parameters": _BATCH_ID},
    "MarkBatchPaid": {"operationId": f"post_{_BATCH_OP}_mark_paid", "parameters": _BATCH_ID},
}
_BUDGET_ID = {"partnership_id": "$response.body#/partnership_id"}
BUDGET_LINKS = {
    "GetBudget": {"operationId": "get_api_v1_budgets_by_partnership_id",
                  "parameters": _BUDGET_ID},
    "SetBudget": {"operationId": "put_api_v1_budgets_by_partnership_id",
                  "parameters": _BUDGET_ID},
}



class PaymentRoutes(Routes):
    # --- the lump-sum table ---------------------------------------------------------------

    @api("GET", f"{V1}/lump-sums", "The lump-sum table: every figure with its period, and "
         "the programme's ceiling", auth=False, tags=["lump sums"],
         response=pay.LumpSumTableSchema)
    def list_lump_sums(self, request: Request) -> Response:
        return json_response(self.rpc.call("payments", "list_lump_sums"),
                             headers={"Cache-Control": "public, max-age=60"})

    @api("GET", f"{V1}/lump-sums/quote", "The lump sum for a host country, working days, mode "
         "and distance, with the rules that gave it", auth=False, tags=["lump sums"],
         query=pay.QuoteQuerySchema, response=pay.QuoteSchema, errors=(422,))
    def quote(self, request: Request) -> Response:
        return json_response(self.rpc.call("payments", "quote", query_args(request)))

    @api("POST", f"{V1}/lump-sums", "A new figure for a host country from `valid_from` on "
         "(administrators); the change is recorded with who, when, old → new",
         tags=["lump sums"], body=pay.SetLumpSumSchema, response=pay.LumpSumSetSchema,
         errors=WRITE_ERRORS, idempotent=True)
    def set_lump_sum(self, request: Request) -> Response:
        return json_response(self._call(request, "payments", "set_lump_sum", json_body(request)))

    @api("GET", f"{V1}/lump-sums/changes", "The audit trail of the table (administrators)",
         tags=["lump sums"], query=pay.RateChangeQuerySchema, response=pay.RateChangeSchema,
         many=True, errors=(401, 403, 422))
    def lump_sum_changes(self, request: Request) -> Response:
        changes = self._call(request, "payments", "list_lump_sum_changes", query_args(request))
        return json_response(changes, headers={"X-Total-Count": str(len(changes))})

    # --- budgets --------------------------------------------------------------------------

    @api("GET", f"{V1}/budgets", "Partnerships' budgets: every one for administrators, its "
         "own for a contact point", tags=["budgets"], query=pay.BudgetListQuerySchema,
         response=pay.BudgetSchema, many=True, errors=(401, 403, 422))
    def list_budgets(self, request: Request) -> Response:
        return paged(self._call(request, "payments", "list_budgets", query_args(request)),
                     request)

    @api("GET", f"{V1}/budgets/<string:partnership_id>", "A partnership's budget: the "
         "envelope, what is reserved, paid and available", tags=["budgets"],
         response=pay.BudgetSchema, errors=(401, 404), links=BUDGET_LINKS)
    def get_budget(self, request: Request, partnership_id: str) -> Response:
        return with_etag(self._call(request, "payments", "get_budget", partnership_id))

    @api("PUT", f"{V1}/budgets/<string:partnership_id>", "Set a partnership's envelope "
         "(administrators); never below what is already committed. Send the ETag you read as "
         "If-Match (or `version`): set by someone else since, 409", tags=["budgets"],
         body=pay.SetBudgetSchema, response=pay.BudgetSchema, errors=WRITE_ERRORS,
         idempotent=True, links=BUDGET_LINKS)
    def set_budget(self, request: Request, partnership_id: str) -> Response:
        body = versioned(request, json_body(request))
        return with_etag(self._call(request, "payments", "set_budget", partnership_id, body))

    # --- payment claims and their evidence ------------------------------------------------

    @api("GET", f"{V1}/payments", "Payment claims: a visitor's own, a contact point's "
         "partnership's, every one for administrators", tags=["payments"],
         query=pay.ClaimListQuerySchema, response=pay.ClaimSchema, many=True,
         errors=(401, 403, 422))
    def list_claims(self, request: Request) -> Response:
        return paged(self._call(request, "payments", "list_claims", query_args(request)), request)

    @api("GET", CLAIM, "The payment claim of an exchange, with its evidence and payout",
         tags=["payments"], response=pay.ClaimSchema, errors=(401, 404), links=CLAIM_LINKS)
    def get_claim(self, request: Request, exchange_id: str) -> Response:
        return with_etag(self._call(request, "payments", "get_claim", exchange_id))

    @api("POST", f"{CLAIM}/evidence", "Add evidence to the claim (the visitor, while the claim "
         "is theirs to edit): PDF, JPEG or PNG, at most EVIDENCE_MAX_BYTES (10 MB by default), "
         "raw body (name in X-Filename) or multipart field `file`", tags=["payments"],
         response=pay.ClaimSchema, status=201, body_content=PDF,
         errors=(400, 401, 403, 404, 409, 413, 415, 422), links=CLAIM_LINKS)
    def upload_evidence(self, request: Request, exchange_id: str) -> Response:
        token = caller_token(request, self.tokens)
        # Callers who may not see the claim are refused before anything is read or stored.
        self.rpc.call("payments", "get_claim", exchange_id, auth_token=token)
        max_bytes = self.config["PAYMENTS"]["evidence_max_bytes"]
        data, filename = upload_bytes(request, max_bytes)
        content_type = check_evidence(data, max_bytes)
        stored = self.store.put(f"evidence/{exchange_id}", data, content_type)
        payload = {"key": stored.key,
                   "filename": safe_filename(filename, "evidence") if filename else None}
        try:
            result = self.rpc.call("payments", "add_evidence", exchange_id, payload,
                                   auth_token=token)
        except AppError as exc:
            # Only a refusal proves nothing points at the object; after a timeout or an
            # outage payments may have committed it, so it stays (an orphan at worst).
            if 400 <= exc.status < 500:
                self.store.delete(stored.key)
            else:
                log.warning("kept evidence object %s: add_evidence ended with %s", stored.key,
                            exc.__class__.__name__)
            raise
        return with_etag(result, 201)

    @api("GET", f"{CLAIM}/evidence/<string:evidence_id>", "Download one piece of evidence",
         tags=["payments"], content=tuple(sorted(EVIDENCE_TYPES)), errors=(401, 404))
    def download_evidence(self, request: Request, exchange_id: str, evidence_id: str) -> Response:
        evidence = self._call(request, "payments", "get_evidence", exchange_id, evidence_id)
        default = {PDF: "evidence.pdf", JPEG: "evidence.jpg", PNG: "evidence.png"}
        filename = evidence.get("filename") or default.get(evidence["content_type"], "evidence")
        return Response(self.store.get(evidence["key"]), mimetype=evidence["content_type"], headers={
            "Content-Disposition": content_disposition(filename),
            "X-Content-SHA256": evidence["sha256"], "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff"})

    @api("DELETE", f"{CLAIM}/evidence/<string:evidence_id>", "Take a piece of evidence back "
         "(the visitor, while the claim is theirs to edit)", tags=["payments"],
         response=pay.ClaimSchema, errors=(401, 403, 404, 409))
    def remove_evidence(self, request: Request, exchange_id: str, evidence_id: str) -> Response:
        return with_etag(self._call(request, "payments", "remove_evidence", exchange_id,
                                     evidence_id))

    @api("POST", f"{CLAIM}/submit", "Submit the claim, with its evidence, to the contact point "
         "(the visitor); send `version` or If-Match to be sure of what you submit",
         tags=["payments"], body=pay.SubmitClaimSchema, response=pay.ClaimSchema,
         errors=WRITE_ERRORS, idempotent=True, links=CLAIM_LINKS)
    def submit_claim(self, request: Request, exchange_id: str) -> Response:
        body = versioned(request, optional_json_body(request))
        return with_etag(self._call(request, "payments", "submit_claim", exchange_id, body))

    @api("POST", f"{CLAIM}/approve", "Approve the claim (the contact point of the visitor's "
         "partnership, or an administrator): exactly one payout, due within PAYMENT_DUE_DAYS",
         tags=["payments"], body=pay.ApproveClaimSchema, response=pay.ClaimSchema,
         errors=WRITE_ERRORS, idempotent=True, links={**CLAIM_LINKS, "GetPayout": {
             "operationId": "get_api_v1_payouts_by_payout_id",
             "parameters": {"payout_id": "$response.body#/payout/id"}}})
    def approve_claim(self, request: Request, exchange_id: str) -> Response:
        body = versioned(request, optional_json_body(request))
        return with_etag(self._call(request, "payments", "approve_claim", exchange_id, body))

    @api("POST", f"{CLAIM}/request-changes", "Send the claim back to the visitor, saying what "
         "is missing", tags=["payments"], body=pay.RequestChangesSchema,
         response=pay.ClaimSchema, errors=WRITE_ERRORS, idempotent=True, links=CLAIM_LINKS)
    def request_claim_changes(self, request: Request, exchange_id: str) -> Response:
        body = versioned(request, json_body(request))
        return with_etag(self._call(request, "payments", "request_claim_changes", exchange_id,
                                     body))

    # --- payouts ----------------------------------------------------------------------------

    @api("GET", f"{V1}/payouts", "Payouts you may see; `overdue=true`: past their due date, "
         "not paid", tags=["payouts"], query=pay.PayoutListQuerySchema,
         response=pay.PayoutSchema, many=True, errors=(401, 403, 422))
    def list_payouts(self, request: Request) -> Response:
        return paged(self._call(request, "payments", "list_payouts", query_args(request)),
                     request)

    @api("GET", PAYOUT, "One payout", tags=["payouts"], response=pay.PayoutSchema,
         errors=(401, 404), links=PAYOUT_LINKS)
    def get_payout(self, request: Request, payout_id: str) -> Response:
        return json_response(self._call(request, "payments", "get_payout", payout_id))

    @api("POST", f"{PAYOUT}/fail", "The bank refused or returned the transfer: the payout "
         "waits for a later payment run", tags=["payouts"], body=pay.FailPayoutSchema,
         response=pay.PayoutSchema, errors=WRITE_ERRORS, idempotent=True, links=PAYOUT_LINKS)
    def fail_payout(self, request: Request, payout_id: str) -> Response:
        return json_response(self._call(request, "payments", "mark_payout_failed", payout_id,
                                        json_body(request)))

    # --- payment runs -------------------------------------------------------------------------

    @api("POST", f"{V1}/payment-batches", "A payment run: the partnership's approved payouts "
         "(and failed ones, to retry)", tags=["payment batches"], body=pay.CreateBatchSchema,
         response=pay.BatchSchema, status=201, errors=WRITE_ERRORS, idempotent=True,
         links=BATCH_LINKS, location=True)
    def create_batch(self, request: Request) -> Response:
        created = self._call(request, "payments", "create_batch", optional_json_body(request))
        return json_response(created, 201, {"Location": f"{V1}/payment-batches/{created['id']}"})

    @api("GET", f"{V1}/payment-batches", "Payment runs (contact points: their partnership's)",
         tags=["payment batches"], query=pay.BatchListQuerySchema, response=pay.BatchSchema,
         many=True, errors=(401, 403, 422))
    def list_batches(self, request: Request) -> Response:
        return paged(self._call(request, "payments", "list_batches", query_args(request)),
                     request)

    @api("GET", BATCH, "One payment run, with each payout's outcome", tags=["payment batches"],
         response=pay.BatchSchema, errors=(401, 404), links=BATCH_LINKS)
    def get_batch(self, request: Request, batch_id: str) -> Response:
        return json_response(self._call(request, "payments", "get_batch", batch_id))

    @api("GET", f"{BATCH}/sepa.xml", "The run's SEPA credit-transfer file (pain.001) for the "
         "bank", tags=["payment batches"], content=(XML,), errors=(401, 404, 409))
    def sepa_file(self, request: Request, batch_id: str) -> Response:
        built = self._call(request, "payments", "sepa_file", batch_id)
        return Response(built["xml"].encode("utf-8"), mimetype=XML, headers={
            "Content-Disposition": content_disposition(built["filename"]),
            "X-Message-Id": built["message_id"],
            "X-Transaction-Count": str(built["transaction_count"]),
            "X-Control-Sum-Cents": str(built["control_sum_cents"]),
            "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})

    @api("POST", f"{BATCH}/mark-paid", "The bank executed the run: each payout still pending "
         "is paid", tags=["payment batches"], response=pay.BatchSchema, errors=WRITE_ERRORS,
         idempotent=True, links=BATCH_LINKS)
    def mark_batch_paid(self, request: Request, batch_id: str) -> Response:
        optional_json_body(request)
        return json_response(self._call(request, "payments", "mark_batch_paid", batch_id))

    # --- the account payment runs are paid from ---------------------------------------------

    @api("PUT", f"{V1}/partnerships/<string:partnership_id>/debtor-account", "The "
         "partnership's own bank account its payment runs are paid from (administrators)",
         tags=["partnerships"], body=pay.SetDebtorAccountSchema, response=pay.DebtorAccountSchema,
         errors=WRITE_ERRORS)
    def set_debtor_account(self, request: Request, partnership_id: str) -> Response:
        return json_response(self._call(request, "payments", "set_debtor_account",
                                        partnership_id, json_body(request)))

    @api("GET", f"{V1}/partnerships/<string:partnership_id>/debtor-account", "The account "
         "payment runs are paid from (masked)", tags=["partnerships"],
         response=pay.DebtorAccountSchema, errors=(401, 404))
    def get_debtor_account(self, request: Request, partnership_id: str) -> Response:
        return json_response(self._call(request, "payments", "get_debtor_account",
                                        partnership_id))
