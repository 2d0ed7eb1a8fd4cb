"""Exchanges: from a proposal to the closing report, the commitment to quality and its
signatures, the financial agreement."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from common.errors import AppError
from common.storage import PDF, check_document
from gateway.http import api, json_response
from gateway.requests import json_body, optional_json_body, query_args, upload_bytes
from gateway.routes.base import (
    V1,
    Routes,
    caller_token,
    content_disposition,
    if_match,
    paged,
    versioned,
    with_etag,
)
from services.agreements import schemas as agr
from services.agreements.schemas import SIGNED_COPY_MAX_BYTES

EXCHANGE = f"{V1}/exchanges/<string:exchange_id>"
_ID = {"exchange_id": "$response.body#/id"}
_OP = "api_v1_exchanges_by_exchange_id"
EXCHANGE_LINKS = {
    "GetExchange": {"operationId": f"get_{_OP}", "parameters": _ID},
    "UpdateExchange": {"operationId": f"patch_{_OP}", "parameters": _ID},
    "ConfirmExchange": {"operationId": f"post_{_OP}_confirm", "parameters": _ID},
    "SubmitExchange": {"operationId": f"post_{_OP}_submit", "parameters": _ID},
    "CheckPlan": {"operationId": f"get_{_OP}_checks", "parameters": _ID},
    "Timeline": {"operationId": f"get_{_OP}_timeline", "parameters": _ID},
    "Commitment": {"operationId": f"get_{_OP}_commitment_pdf", "parameters": _ID},
    "CancelExchange": {"operationId": f"post_{_OP}_cancel", "parameters": _ID},
}
WRITE_ERRORS = (400, 401, 403, 404, 409, 422)



class AgreementRoutes(Routes):
    @api("GET", f"{V1}/exchanges", "Exchanges you are a party to (or your partnership's)",
         tags=["exchanges"], query=agr.ExchangeListQuerySchema, response=agr.ExchangeSchema,
         many=True, errors=(401, 422))
    def list_exchanges(self, request: Request) -> Response:
        return paged(self._call(request, "agreements", "list_exchanges", query_args(request)),
                     request)

    @api("POST", f"{V1}/exchanges", "Propose an exchange to the other organisation of an "
         "accepted contact (or of an agreement made outside the platform)", tags=["exchanges"],
         body=agr.ProposeExchangeSchema, response=agr.ExchangeSchema, status=201,
         errors=WRITE_ERRORS, idempotent=True, links=EXCHANGE_LINKS, location=True)
    def propose_exchange(self, request: Request) -> Response:
        created = self._call(request, "agreements", "propose_exchange", json_body(request))
        return with_etag(created, 201, {"Location": f"{V1}/exchanges/{created['id']}"})

    @api("GET", EXCHANGE, "One exchange, with what you may do next", tags=["exchanges"],
         response=agr.ExchangeSchema, errors=(401, 404), links=EXCHANGE_LINKS)
    def get_exchange(self, request: Request, exchange_id: str) -> Response:
        return with_etag(self._call(request, "agreements", "get_exchange", exchange_id))

    @api("PATCH", EXCHANGE, "Edit the plan: a JSON merge patch (RFC 7396) of `plan`; send "
         "`version` or If-Match. After validation this voids the signatures.",
         tags=["exchanges"], body=agr.UpdateExchangeSchema,
         body_content="application/merge-patch+json", response=agr.ExchangeSchema,
         errors=(*WRITE_ERRORS, 428), idempotent=True)
    def update_exchange(self, request: Request, exchange_id: str) -> Response:
        body = versioned(request, json_body(request))
        return with_etag(self._call(request, "agreements", "update_exchange", exchange_id, body))

    @api("POST", f"{EXCHANGE}/confirm", "Confirm a proposal you received: preparation starts",
         tags=["exchanges"], body=agr.ConfirmSchema, response=agr.ExchangeSchema,
         errors=WRITE_ERRORS, idempotent=True)
    def confirm_exchange(self, request: Request, exchange_id: str) -> Response:
        body = versioned(request, optional_json_body(request))
        return with_etag(self._call(request, "agreements", "confirm_exchange", exchange_id, body))

    @api("POST", f"{EXCHANGE}/decline", "Decline a proposal you received", tags=["exchanges"],
         body=agr.ConfirmSchema, response=agr.ExchangeSchema, errors=WRITE_ERRORS,
         idempotent=True)
    def decline_exchange(self, request: Request, exchange_id: str) -> Response:
        body = versioned(request, optional_json_body(request))
        return with_etag(self._call(request, "agreements", "decline_exchange", exchange_id, body))

    @api("GET", f"{EXCHANGE}/checks", "Each rule of the plan and whether it is met",
         tags=["exchanges"], response=agr.PlanChecksSchema, errors=(401, 404))
    def check_plan(self, request: Request, exchange_id: str) -> Response:
        return json_response(self._call(request, "agreements", "check_plan", exchange_id))

    @api("GET", f"{EXCHANGE}/working-days", "Working days of a stay in the host country, with "
         "the days excluded and why", tags=["exchanges"], query=agr.WorkingDaysQuerySchema,
         response=agr.WorkingDaysSchema, errors=(401, 404, 422))
    def working_days(self, request: Request, exchange_id: str) -> Response:
        return json_response(self._call(request, "agreements", "working_days", exchange_id,
                                        query_args(request)))

    @api("POST", f"{EXCHANGE}/submit", "Submit the plan to both partnerships",
         tags=["exchanges"], response=agr.ExchangeSchema, errors=WRITE_ERRORS, idempotent=True)
    def submit_exchange(self, request: Request, exchange_id: str) -> Response:
        optional_json_body(request)
        return with_etag(self._call(request, "agreements", "submit_exchange", exchange_id,
                                     if_match(request)))

    @api("POST", f"{EXCHANGE}/validation", "Approve or reject the plan (a contact point of "
         "either partnership)", tags=["exchanges"], body=agr.ValidationDecisionSchema,
         response=agr.ExchangeSchema, errors=WRITE_ERRORS, idempotent=True)
    def validate_exchange(self, request: Request, exchange_id: str) -> Response:
        body = versioned(request, json_body(request))
        return with_etag(self._call(request, "agreements", "validate_exchange", exchange_id, body))

    @api("GET", f"{EXCHANGE}/timeline", "Every step of the exchange: who, when, what",
         tags=["exchanges"], response=agr.TimelineEntrySchema, many=True, errors=(401, 404))
    def timeline(self, request: Request, exchange_id: str) -> Response:
        entries = self._call(request, "agreements", "get_timeline", exchange_id)
        return json_response(entries, headers={"X-Total-Count": str(len(entries))})

    @api("GET", f"{EXCHANGE}/commitment.pdf", "The commitment to quality (`?signed=true`: the "
         "copy with every seal so far)", tags=["exchanges"], content=(PDF,), errors=(401, 404))
    def commitment(self, request: Request, exchange_id: str) -> Response:
        signed = request.args.get("signed", "").lower() in ("1", "true", "yes")
        document = self._call(request, "agreements", "get_commitment", exchange_id, signed)
        return Response(self.store.get(document["key"]), mimetype=PDF, headers={
            "Content-Disposition": content_disposition(document["filename"]),
            "X-Content-SHA256": document["sha256"],
            "X-Document-SHA256": document["document_sha256"],
            "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})

    @api("POST", f"{EXCHANGE}/signatures", "Sign the commitment to quality for your own party, "
         "naming the SHA-256 of the document you read", tags=["exchanges"],
         body=agr.SignSchema, response=agr.ExchangeSchema, errors=WRITE_ERRORS, idempotent=True)
    def sign_commitment(self, request: Request, exchange_id: str) -> Response:
        body = json_body(request)
        client = {"ip": self.limits.client(request),
                  "user_agent": request.headers.get("User-Agent", "")}
        return with_etag(self._call(request, "agreements", "sign_commitment", exchange_id, body,
                                     client))

    @api("PUT", f"{EXCHANGE}/signatures/<string:party>/document", "Sign by uploading a signed "
         "copy instead (PDF, at most 10 MB, raw body or multipart field `file`): the document "
         "signed elsewhere, whose signatures are checked, or a scan of a paper signature",
         tags=["exchanges"], response=agr.ExchangeSchema, body_content=PDF,
         errors=(400, 401, 403, 404, 409, 413, 415, 422), idempotent=True)
    def upload_signed_copy(self, request: Request, exchange_id: str, party: str) -> Response:
        token = caller_token(request, self.tokens)
        # Refused callers are refused before anything is read or stored.
        self.rpc.call("agreements", "check_signed_upload", exchange_id, party, auth_token=token)
        data, _filename = upload_bytes(request, SIGNED_COPY_MAX_BYTES)
        check_document(data, frozenset({PDF}), SIGNED_COPY_MAX_BYTES)
        stored = self.store.put(f"signed/{exchange_id}", data, PDF)
        client = {"ip": self.limits.client(request), "user_agent": request.headers.get("User-Agent", "")}
        try:
            result = self._call(request, "agreements", "attach_signed_document", exchange_id, party,
                                stored.key, client)
        except AppError as exc:
            if 400 <= exc.status < 500:  # refused: nothing points at the file
                self.store.delete(stored.key)
            raise
        return with_etag(result)

    @api("GET", f"{EXCHANGE}/financial-agreement", "The financial agreement: the lump sum and "
         "the visitor's bank account (masked)", tags=["exchanges"],
         response=agr.FinancialAgreementSchema, errors=(401, 404, 503))
    def financial_agreement(self, request: Request, exchange_id: str) -> Response:
        return json_response(self._call(request, "agreements", "get_financial_agreement",
                                        exchange_id))

    @api("PUT", f"{EXCHANGE}/financial-agreement/bank-account", "The visiting organisation's "
         "bank account (IBAN, BIC, holder)", tags=["exchanges"], body=agr.BankDetailsSchema,
         response=agr.FinancialAgreementSchema, errors=(*WRITE_ERRORS, 503), idempotent=True)
    def bank_account(self, request: Request, exchange_id: str) -> Response:
        return json_response(self._call(request, "agreements", "set_bank_details", exchange_id,
                                        json_body(request)))

    @api("POST", f"{EXCHANGE}/financial-agreement/signatures", "Sign the financial agreement "
         "(the visiting organisation and its partnership)", tags=["exchanges"],
         response=agr.ExchangeSchema, errors=(*WRITE_ERRORS, 503), idempotent=True)
    def sign_financial_agreement(self, request: Request, exchange_id: str) -> Response:
        optional_json_body(request)
        return with_etag(self._call(request, "agreements", "sign_financial_agreement",
                                     exchange_id, if_match(request)))

    @api("POST", f"{EXCHANGE}/closing-report", "Your closing report (the visitor's is required, "
         "the host's optional)", tags=["exchanges"], body=agr.ClosingReportSchema,
         response=agr.ExchangeSchema, errors=WRITE_ERRORS, idempotent=True)
    def closing_report(self, request: Request, exchange_id: str) -> Response:
        return with_etag(self._call(request, "agreements", "submit_closing_report", exchange_id,
                                     json_body(request)))

    @api("GET", f"{EXCHANGE}/closing-report", "The closing reports submitted so far",
         tags=["exchanges"], response=agr.ClosingReportViewSchema, many=True, errors=(401, 404))
    def closing_reports(self, request: Request, exchange_id: str) -> Response:
        reports = self._call(request, "agreements", "get_closing_reports", exchange_id)
        return json_response(reports, headers={"X-Total-Count": str(len(reports))})

    @api("POST", f"{EXCHANGE}/cancel", "Cancel the exchange, with a reason", tags=["exchanges"],
         body=agr.CancelSchema, response=agr.ExchangeSchema, errors=WRITE_ERRORS, idempotent=True)
    def cancel_exchange(self, request: Request, exchange_id: str) -> Response:
        body = versioned(request, json_body(request))
        return with_etag(self._call(request, "agreements", "cancel_exchange", exchange_id, body))
