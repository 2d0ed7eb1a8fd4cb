"""Agreements service: exchanges from proposal to closing, the commitment to quality and its
signatures, the financial agreement and closing reports."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from nameko.dependency_providers import Config
from nameko.timer import timer
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from common.auth import Auth, Caller
from common.db import Database, utcnow
from common.entrypoints import rpc
from common.errors import (
    Conflict,
    NotAllowed,
    NotFound,
    PreconditionRequired,
    ServiceUnavailable,
    StaleVersion,
    ValidationFailed,
)
from common.events import handles, jsonable, make_event
from common.idempotency import IdempotencyKeys
from common.logs import RequestContext
from common.outbox import OutboxRelay, first_delivery, record_event
from common.rpc import Rpc
from common.schemas import StatisticsQuerySchema, load, page_of
from common.service_identity import require_service
from common.statistics import counts, statistics_scope
from common.storage import PDF, ObjectStoreProvider, check_document
from services.agreements import documents, domain, plan, repository, statistics, views
from services.agreements import lifecycle as lc
from services.agreements.bank import validate_account
from services.agreements.keys import AgreementKeys
from services.agreements.models import (
    ClosingReport,
    Exchange,
    FinancialAgreement,
    IdempotencyKey,
    InboxEvent,
    OutboxEvent,
    Signature,
)
from services.agreements.schemas import (
    SIGNED_COPY_MAX_BYTES,
    BankDetailsSchema,
    CancelSchema,
    ClosingReportSchema,
    ConfirmSchema,
    ExchangeListQuerySchema,
    ExchangeSchema,
    ExchangeStatisticsSchema,
    PlanSchema,
    ProposeExchangeSchema,
    SignSchema,
    UpdateExchangeSchema,
    ValidationDecisionSchema,
    WorkingDaysQuerySchema,
)
from services.agreements.working_days import count_working_days

_exchange = ExchangeSchema()
_propose = ProposeExchangeSchema()
_update = UpdateExchangeSchema()
_plan = PlanSchema()
_confirm = ConfirmSchema()
_decision = ValidationDecisionSchema()
_sign = SignSchema()
_cancel = CancelSchema()
_bank = BankDetailsSchema()
_report = ClosingReportSchema()
_list_query = ExchangeListQuerySchema()
_days_query = WorkingDaysQuerySchema()
_statistics_query = StatisticsQuerySchema()
_exchange_statistics = ExchangeStatisticsSchema()

STAY_CHECK_SECONDS = float(os.environ.get("STAY_CHECK_SECONDS", "60"))
FIELD_NAMES = {"vo": "Sig_VO", "ho": "Sig_HO", "vop": "Sig_VOP", "hop": "Sig_HOP"}
PARTY_LABELS = {"vo": "visiting organisation", "ho": "host organisation",
                "vop": "visiting organisation's partnership", "hop": "host organisation's partnership"}


class AgreementsService:
    name = "agreements"

    config = Config()
    db = Database()
    relay = OutboxRelay(OutboxEvent, inbox=InboxEvent)
    auth = Auth()
    store = ObjectStoreProvider()
    rpc_client = Rpc()
    idempotency = IdempotencyKeys(IdempotencyKey)
    keys = AgreementKeys()
    request_context = RequestContext()

    @rpc
    def health(self) -> dict[str, Any]:
        self.db.reader.execute(text("SELECT 1"))
        return {"status": "ok"}

    # --- from a match to an exchange ------------------------------------------------------

    @rpc
    def propose_exchange(self, payload: dict[str, Any],
                         idempotency_key: str | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        caller.require("participant")
        data = load(_propose, payload)
        session = self.db.session
        own_id, other_id = self._pair_ids(caller, data)
        profiles = self._profiles(caller, [own_id, other_id])
        own, other = profiles.get(own_id), profiles.get(other_id)
        if own is None or own.account_id != caller.account_id:
            raise NotFound("You have no accepted registration to propose an exchange from.")
        if other is None:
            raise NotFound("No such registration among accepted participants.",
                           {"counterpart_registration_id": ["Unknown or not accepted."]})
        role = _proposer_role(data.get("role"), own, other)
        visitor, host = (own, other) if role == "visitor" else (other, own)
        domain.check_pair(visitor, host)

        def propose() -> dict[str, Any]:
            domain.check_visits_and_capacity(repository.count_visits(session, visitor.organisation_id),
                                             repository.count_hosting(session, host.organisation_id),
                                             host)
            plan_data = jsonable(data.get("plan") or {})
            exchange = Exchange(
                reference=repository.next_reference(session, datetime.now(UTC).year),
                status=lc.PROPOSED, proposed_by=caller.account_id,
                proposer_party="vo" if role == "visitor" else "ho",
                contact_id=data.get("contact_id"), plan=plan_data, content_version=1,
                start_date=plan_data.get("start_date"), end_date=plan_data.get("end_date"),
                **_side_columns("visitor", visitor), **_side_columns("host", host))
            session.add(exchange)
            try:
                session.flush()
            except IntegrityError as exc:
                raise Conflict("This organisation already has an exchange as a visitor; an "
                               "organisation visits at most once.") from exc
            repository.add_timeline(session, exchange, caller.account_id, exchange.proposer_party,
                                    "propose", None)
            self._emit(exchange, "exchange_proposed", caller.account_id)
            return self._view(exchange, frozenset({exchange.proposer_party}))

        return self.idempotency.run(session, idempotency_key, caller.account_id,
                                    "propose_exchange", payload, propose)

    @rpc
    def confirm_exchange(self, exchange_id: str, payload: dict[str, Any] | None = None,
                         idempotency_key: str | None = None) -> dict[str, Any]:
        return self._once("confirm_exchange", idempotency_key, [exchange_id, payload],
                          lambda: self._confirm_exchange(exchange_id, payload))

    def _confirm_exchange(self, exchange_id: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = load(_confirm, payload or {})
        return self._transition(exchange_id, lc.CONFIRM, data.get("version"), data.get("comment"),
                                event="exchange_confirmed", not_proposer=True)

    @rpc
    def decline_exchange(self, exchange_id: str, payload: dict[str, Any] | None = None,
                         idempotency_key: str | None = None) -> dict[str, Any]:
        return self._once("decline_exchange", idempotency_key, [exchange_id, payload],
                          lambda: self._decline_exchange(exchange_id, payload))

    def _decline_exchange(self, exchange_id: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = load(_confirm, payload or {})
        return self._transition(exchange_id, lc.DECLINE, data.get("version"), data.get("comment"),
                                event="exchange_cancelled", not_proposer=True,
                                cancel_reason=data.get("comment") or "Proposal declined.")

    # --- reading --------------------------------------------------------------------------

    @rpc
    def get_exchange(self, exchange_id: str) -> dict[str, Any]:
        exchange, parts = self._visible(exchange_id)
        return self._view(exchange, parts)

    @rpc
    def list_exchanges(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        filters = load(_list_query, query or {})
        partnership = (caller.partnership_id if caller.has("partnership_contact", "backoffice")
                       else None)
        account = caller.account_id if caller.has("participant") else None
        rows, total = repository.list_exchanges(self.db.session, filters, account, partnership,
                                                caller.is_admin)
        parties = [(row, _parties(row).of(caller)) for row in rows]
        return page_of([self._view(row, parts) for row, parts in parties], total,
                       filters["page"], filters["per_page"])

    @rpc
    def exchange_statistics(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """Exchanges by state, host country, visitor's partnership and month of start, and
        the lump sums by host country (administrators: the programme or one partnership; a
        contact point: its partnership's)."""
        data = load(_statistics_query, query or {})
        only = statistics_scope(self.auth.caller, data["partnership_id"])
        session = self.db.reader
        by_state = counts(repository.exchange_counts(session, only, "status"))
        return _exchange_statistics.dump({
            "partnership_id": only, "total": sum(item["count"] for item in by_state),
            "by_state": by_state,
            "by_host_country": counts(repository.exchange_counts(session, only, "host_country")),
            "by_partnership": counts(repository.exchange_counts(session, only,
                                                                "visitor_partnership_id")),
            "by_month": statistics.by_month(repository.exchanges_by_month_and_state(session, only)),
            "lump_sums_by_host_country": statistics.lump_sums(
                repository.lump_sums_by_host_country(session, only))})

    @rpc
    def get_timeline(self, exchange_id: str) -> list[dict[str, Any]]:
        exchange, _ = self._visible(exchange_id)
        return [{key: entry[key] for key in ("at", "party", "action", "from_state", "to_state",
                                             "comment")}
                for entry in repository.timeline(self.db.session, exchange.id)]

    @rpc
    def check_plan(self, exchange_id: str) -> dict[str, Any]:
        exchange, _ = self._visible(exchange_id)
        results = plan.check_plan(exchange.plan or {}, exchange.host_country, _today())
        return {"submittable": all(r.passed for r in results),
                "rules": [r.to_dict() for r in results]}

    @rpc
    def working_days(self, exchange_id: str, query: dict[str, Any]) -> dict[str, Any]:
        exchange, _ = self._visible(exchange_id)
        data = load(_days_query, query or {})
        return count_working_days(exchange.host_country, data["start_date"], data["end_date"],
                                  data["travel_days_before"], data["travel_days_after"]).to_dict()

    # --- the plan -------------------------------------------------------------------------

    @rpc
    def update_exchange(self, exchange_id: str, payload: dict[str, Any],
                        idempotency_key: str | None = None) -> dict[str, Any]:
        return self._once("update_exchange", idempotency_key, [exchange_id, payload],
                          lambda: self._update_exchange(exchange_id, payload))

    def _update_exchange(self, exchange_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        caller = self.auth.caller
        data = load(_update, payload)
        session = self.db.session
        exchange, parts = self._visible(exchange_id, for_update=True)
        domain.ensure_may(lc.EDIT, parts)
        _check_version(exchange, data.get("version"), required=True)
        target = lc.next_state(exchange.status, lc.EDIT)
        merged = _merge_patch(exchange.plan or {}, jsonable(payload.get("plan") or {}))
        merged = jsonable(load(_plan, merged))
        if merged == (exchange.plan or {}):
            return self._view(exchange, parts)
        before = exchange.status
        exchange.plan = merged
        exchange.start_date, exchange.end_date = merged.get("start_date"), merged.get("end_date")
        exchange.content_version += 1
        exchange.status = target
        exchange.updated_at = utcnow()
        comment = None
        if before in (lc.VALIDATED, lc.SIGNED):
            comment = "The plan changed after validation: back to the contact points; signatures voided."
        repository.add_timeline(session, exchange, caller.account_id, _main_part(parts), "edit",
                                before, comment)
        if target == lc.SUBMITTED:
            # Back to (or still with) the contact points: they must look again. Edits of a
            # draft are nobody else's business until it is submitted.
            self._emit(exchange, "exchange_submitted", caller.account_id)
        return self._flushed_view(exchange, parts)

    @rpc
    def submit_exchange(self, exchange_id: str, version: int | None = None,
                        idempotency_key: str | None = None) -> dict[str, Any]:
        return self._once("submit_exchange", idempotency_key, [exchange_id, version],
                          lambda: self._submit_exchange(exchange_id, version))

    def _submit_exchange(self, exchange_id: str, version: int | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        session = self.db.session
        exchange, parts = self._visible(exchange_id, for_update=True)
        domain.ensure_may(lc.SUBMIT, parts)
        _check_version(exchange, version)
        target = lc.next_state(exchange.status, lc.SUBMIT)
        plan.ensure_submittable(exchange.plan or {}, exchange.host_country, _today())
        before, exchange.status, exchange.updated_at = exchange.status, target, utcnow()
        repository.add_timeline(session, exchange, caller.account_id, _main_part(parts), "submit", before)
        self._emit(exchange, "exchange_submitted", caller.account_id)
        return self._flushed_view(exchange, parts)

    # --- validation by both partnerships -------------------------------------------------

    @rpc
    def validate_exchange(self, exchange_id: str, payload: dict[str, Any],
                          idempotency_key: str | None = None) -> dict[str, Any]:
        return self._once("validate_exchange", idempotency_key, [exchange_id, payload],
                          lambda: self._validate_exchange(exchange_id, payload))

    def _validate_exchange(self, exchange_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        caller = self.auth.caller
        data = load(_decision, payload)
        session = self.db.session
        exchange, parts = self._visible(exchange_id, for_update=True)
        action = lc.VALIDATE if data["decision"] == "approve" else lc.REJECT
        domain.ensure_may(action, parts)
        _check_version(exchange, data.get("version"))
        target = lc.next_state(exchange.status, action)
        deciding = sorted(parts.intersection({"vop", "hop"}))
        for party in deciding:
            repository.record_validation(session, exchange, party, data["decision"],
                                         data.get("comment"), caller.account_id)
        before = exchange.status
        if action == lc.REJECT:
            exchange.status = target
            self._emit(exchange, "exchange_rejected", caller.account_id)
        else:
            approved = {v.party for v in repository.validations(session, exchange)
                        if v.decision == "approve"}
            if {"vop", "hop"} <= approved:
                exchange.status = target
                documents.ensure_document(session, self.store, exchange, self._partnership_names())
                self._emit(exchange, "exchange_validated", caller.account_id)
        exchange.updated_at = utcnow()
        repository.add_timeline(session, exchange, caller.account_id, "+".join(deciding),
                                data["decision"], before, data.get("comment"))
        return self._flushed_view(exchange, parts)

    # --- the commitment to quality --------------------------------------------------------

    @rpc
    def get_commitment(self, exchange_id: str, sealed: bool = False) -> dict[str, Any]:
        """Where the gateway finds the document to stream: the rendered version, or the copy
        with every seal so far."""
        session = self.db.session
        exchange, _ = self._visible(exchange_id)
        document = documents.ensure_document(session, self.store, exchange, self._partnership_names())
        session.commit()
        if sealed and document.sealed_key:
            key, sha256 = document.sealed_key, document.sealed_sha256
        else:
            key, sha256 = document.storage_key, document.sha256
        return {"key": key, "sha256": sha256, "document_sha256": document.sha256,
                "content_version": exchange.content_version,
                "filename": f"{exchange.reference}-commitment-v{exchange.content_version}"
                            f"{'-signed' if sealed and document.sealed_key else ''}.pdf"}

    @rpc
    def sign_commitment(self, exchange_id: str, payload: dict[str, Any],
                        client: dict[str, str] | None = None,
                        idempotency_key: str | None = None) -> dict[str, Any]:
        return self._once("sign_commitment", idempotency_key, [exchange_id, payload],
                          lambda: self._sign_commitment(exchange_id, payload, client))

    def _sign_commitment(self, exchange_id: str, payload: dict[str, Any],
                         client: dict[str, str] | None) -> dict[str, Any]:
        data = load(_sign, payload)
        exchange, parts, party, document = self._signing(exchange_id, data.get("party"))
        if document.sha256 != data["document_sha256"]:
            raise Conflict("The commitment changed since you read it; download it again and sign "
                           "the current version.", {"document_sha256": ["Not the current document."]})
        return self._record_signature(exchange, parts, party, document, "platform", client)

    @rpc
    def check_signed_upload(self, exchange_id: str, party: str) -> dict[str, Any]:
        """Whether the caller may upload a signed copy for `party` now: asked by the gateway
        before it stores anything."""
        _exchange, _parts, party, document = self._signing(exchange_id, party)
        return {"party": party, "document_sha256": document.sha256}

    @rpc
    def attach_signed_document(self, exchange_id: str, party: str, key: str,
                               client: dict[str, str] | None = None,
                               idempotency_key: str | None = None) -> dict[str, Any]:
        """A signed copy uploaded instead of signing in the platform: the exact document
        signed elsewhere (its signatures are checked and the signer recorded), or a scan of a
        paper signature (recorded with its hash)."""
        return self._once("attach_signed_document", idempotency_key, [exchange_id, party, key],
                          lambda: self._attach_signed_document(exchange_id, party, key, client))

    def _attach_signed_document(self, exchange_id: str, party: str, key: str,
                                client: dict[str, str] | None) -> dict[str, Any]:
        exchange, parts, party, document = self._signing(exchange_id, party)
        if not key.startswith(f"signed/{exchange.id}/"):
            raise NotAllowed("That file was not uploaded for this exchange.")
        uploaded = self.store.get(key)
        check_document(uploaded, frozenset({PDF}), SIGNED_COPY_MAX_BYTES)
        original = self.store.get(document.storage_key)
        signer = documents.external_signer(uploaded, original)
        evidence = {"evidence_key": key, "evidence_sha256": hashlib.sha256(uploaded).hexdigest(),
                    "external_signer": signer}
        return self._record_signature(exchange, parts, party, document,
                                      "signed_pdf" if signer else "paper_scan", client, **evidence)

    def _signing(self, exchange_id: str, requested: str | None
                 ) -> tuple[Exchange, frozenset[str], str, Any]:
        """The exchange (locked), the caller's parts, the party they sign for and the document
        they sign — or why they may not."""
        session = self.db.session
        exchange, parts = self._visible(exchange_id, for_update=True)
        domain.ensure_may(lc.SIGN, parts)
        party = domain.signing_party(requested, parts)
        lc.next_state(exchange.status, lc.SIGN)
        document = repository.document(session, exchange)
        if document is None:
            raise Conflict("The commitment to quality is not rendered yet; it is made at validation.")
        if any(s.party == party for s in repository.signatures(session, exchange)):
            raise Conflict(f"The {PARTY_LABELS[party]} has already signed this version.")
        return exchange, parts, party, document

    def _record_signature(self, exchange: Exchange, parts: frozenset[str], party: str,
                          document: Any, method: str, client: dict[str, str] | None,
                          **evidence: Any) -> dict[str, Any]:
        caller = self.auth.caller
        session = self.db.session
        signer = self._signer_name(caller)
        how = {"platform": "signed in ClusterXchange", "signed_pdf": "uploaded a copy signed by "
               f"{evidence.get('external_signer')}", "paper_scan": "uploaded a paper-signed scan"}[method]
        sealed_key, sealed_sha = documents.add_seal(
            self.store, self.keys.sealing, document, FIELD_NAMES[party],
            f"{signer} for the {PARTY_LABELS[party]}", f"{party.upper()}: {how}")
        document.sealed_key, document.sealed_sha256 = sealed_key, sealed_sha
        client = client or {}
        session.add(Signature(exchange_id=exchange.id, content_version=exchange.content_version,
                              party=party, account_id=caller.account_id, signer_name=signer,
                              method=method, document_sha256=document.sha256,
                              ip_address=(client.get("ip") or "")[:45] or None,
                              user_agent=(client.get("user_agent") or "")[:300] or None,
                              **{k: (v[:300] if isinstance(v, str) else v)
                                 for k, v in evidence.items()}))
        session.flush()
        before = exchange.status
        self._emit(exchange, "commitment_signed", caller.account_id, party=party,
                   document_sha256=document.sha256)
        if {s.party for s in repository.signatures(session, exchange)} >= set(repository.SIGNATORIES):
            exchange.status = lc.next_state(exchange.status, lc.SIGN)
            self._emit(exchange, "commitment_fully_signed", caller.account_id,
                       document_sha256=document.sha256)
        exchange.updated_at = utcnow()
        repository.add_timeline(session, exchange, caller.account_id, party, "sign", before,
                                None if method == "platform" else how.capitalize())
        return self._flushed_view(exchange, parts)

    # --- the financial agreement (VO and VOP) -------------------------------------------

    @rpc
    def get_financial_agreement(self, exchange_id: str) -> dict[str, Any]:
        session = self.db.session
        exchange, parts = self._visible(exchange_id)
        _ensure_money_party(parts)
        agreement = self._financial_agreement(exchange, create=exchange.status == lc.SIGNED)
        session.commit()
        return views.financial_agreement_view(agreement)

    @rpc
    def set_bank_details(self, exchange_id: str, payload: dict[str, Any],
                         idempotency_key: str | None = None) -> dict[str, Any]:
        return self._once("set_bank_details", idempotency_key, [exchange_id, payload],
                          lambda: self._set_bank_details(exchange_id, payload))

    def _set_bank_details(self, exchange_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        caller = self.auth.caller
        data = load(_bank, payload)
        session = self.db.session
        exchange, parts = self._visible(exchange_id, for_update=True)
        if "vo" not in parts:
            raise NotAllowed("Only the visiting organisation gives its bank account.")
        lc.next_state(exchange.status, lc.SIGN_FINANCIAL_AGREEMENT)
        account = validate_account(data["account_holder"], data["iban"], data.get("bic"))
        agreement = self._financial_agreement(exchange, create=True)
        if agreement.vo_signed_at or agreement.vop_signed_at:
            raise Conflict("The financial agreement is already signed; its bank account is fixed.")
        agreement.account_holder, agreement.bic = account.holder, account.bic
        agreement.iban_encrypted = self.keys.vault.encrypt(account.iban)
        agreement.iban_masked = account.masked_iban
        agreement.updated_at = utcnow()
        repository.add_timeline(session, exchange, caller.account_id, "vo", "bank_details", exchange.status)
        session.flush()
        return views.financial_agreement_view(agreement)

    @rpc
    def sign_financial_agreement(self, exchange_id: str, version: int | None = None,
                                 idempotency_key: str | None = None) -> dict[str, Any]:
        return self._once("sign_financial_agreement", idempotency_key, [exchange_id, version],
                          lambda: self._sign_financial_agreement(exchange_id, version))

    def _sign_financial_agreement(self, exchange_id: str, version: int | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        session = self.db.session
        exchange, parts = self._visible(exchange_id, for_update=True)
        domain.ensure_may(lc.SIGN_FINANCIAL_AGREEMENT, parts)
        target = lc.next_state(exchange.status, lc.SIGN_FINANCIAL_AGREEMENT)
        # The exchange's version is the ETag clients hold (If-Match), as for every other step.
        _check_version(exchange, version)
        agreement = self._financial_agreement(exchange, create=True)
        if agreement.amount_cents > 0 and not agreement.iban_encrypted:
            raise Conflict("The visiting organisation must give its bank account before signing.")
        signing = [p for p in ("vo", "vop") if p in parts]
        now = utcnow()
        for party in signing:
            if getattr(agreement, f"{party}_signed_at") is None:
                setattr(agreement, f"{party}_signed_by", caller.account_id)
                setattr(agreement, f"{party}_signed_at", now)
        before = exchange.status
        if agreement.vo_signed_at and agreement.vop_signed_at:
            # The lump sum is reserved before the last signature: one that does not fit is refused.
            if agreement.amount_cents > 0:
                self._reserve_budget(exchange, agreement.amount_cents)
            exchange.status = target
            self._emit(exchange, "financial_agreement_signed", caller.account_id,
                       amount_cents=agreement.amount_cents)
        exchange.updated_at = now
        repository.add_timeline(session, exchange, caller.account_id, "+".join(signing),
                                "sign_financial_agreement", before)
        return self._flushed_view(exchange, parts)

    @rpc
    def notification_parties(self, exchange_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The parties of exchanges (registrations and partnerships), for notifications'
        service token only: payments' events name the exchange, not its visitor."""
        require_service(self.auth.caller, "notifications")
        if not isinstance(exchange_ids, list) or len(exchange_ids) > 200:
            raise ValidationFailed("Up to 200 exchange ids.", {"exchange_ids": ["Up to 200 ids."]})
        return repository.parties(self.db.reader, [str(i) for i in exchange_ids])

    @rpc
    def get_payout_accounts(self, exchange_ids: list[str]) -> list[dict[str, Any]]:
        """The visitors' bank accounts for a payment run (payments asks, with the token of the
        contact point who downloads the SEPA file). The IBAN stays encrypted: only payments
        decrypts it, to build the file. Exchanges the caller is not the visitor's partnership
        (or an administrator) of are left out."""
        caller = self.auth.caller
        wanted = [str(exchange_id) for exchange_id in (exchange_ids or [])][:10_000]
        return [{"exchange_id": exchange.id, "reference": exchange.reference,
                 "account_holder": agreement.account_holder, "iban_encrypted": agreement.iban_encrypted,
                 "bic": agreement.bic}
                for exchange, agreement in repository.payout_accounts(self.db.session, wanted)
                if _parties(exchange).of(caller).intersection({"vop", "admin"})]

    # --- the stay and after --------------------------------------------------------------

    @timer(interval=STAY_CHECK_SECONDS)
    def move_stays(self) -> dict[str, int]:
        """ready → in_progress on the first day; in_progress → completed after the last day."""
        session = self.db.session
        today = _today().isoformat()
        moved = {"started": 0, "completed": 0}
        for exchange in repository.due_to_start(session, today):
            self._system_transition(exchange, lc.START, "exchange_started")
            moved["started"] += 1
        for exchange in repository.due_to_complete(session, today):
            self._system_transition(exchange, lc.COMPLETE, "exchange_completed")
            moved["completed"] += 1
        try:
            session.commit()
        except StaleDataError:
            session.rollback()  # another instance moved them; the next tick sees the rest
        return moved

    @rpc
    def submit_closing_report(self, exchange_id: str, payload: dict[str, Any],
                              idempotency_key: str | None = None) -> dict[str, Any]:
        return self._once("submit_closing_report", idempotency_key, [exchange_id, payload],
                          lambda: self._submit_closing_report(exchange_id, payload))

    def _submit_closing_report(self, exchange_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        caller = self.auth.caller
        data = load(_report, payload)
        session = self.db.session
        exchange, parts = self._visible(exchange_id, for_update=True)
        party = "vo" if "vo" in parts else "ho" if "ho" in parts else None
        if party is None:
            raise NotAllowed("Only the two organisations write closing reports.")
        action = lc.REPORT if party == "vo" else lc.HOST_REPORT
        target = lc.next_state(exchange.status, action)
        if any(r.party == party for r in repository.closing_reports(session, exchange.id)):
            raise Conflict("Your closing report is already in.")
        session.add(ClosingReport(exchange_id=exchange.id, party=party,
                                  outcomes=jsonable(data["outcomes"]), follow_up=data.get("follow_up"),
                                  satisfaction=data["satisfaction"], submitted_by=caller.account_id))
        before, exchange.status, exchange.updated_at = exchange.status, target, utcnow()
        repository.add_timeline(session, exchange, caller.account_id, party, action, before)
        if action == lc.REPORT:
            agreement = repository.financial_agreement(session, exchange.id)
            amount = agreement.amount_cents if agreement is not None else 0
            self._emit(exchange, "closing_report_submitted", caller.account_id,
                       amount_cents=amount)
            if amount == 0:
                # Nothing to pay (a virtual exchange): the report closes the exchange.
                for step, event in ((lc.APPROVE_PAYOUT, None), (lc.PAY, None),
                                    (lc.CLOSE, "exchange_closed")):
                    self._system_transition(exchange, step, event,
                                            "No lump sum to pay: closed with the report.")
        return self._flushed_view(exchange, parts)

    @rpc
    def get_closing_reports(self, exchange_id: str) -> list[dict[str, Any]]:
        exchange, _ = self._visible(exchange_id)
        return [{"party": r.party, "outcomes": r.outcomes, "follow_up": r.follow_up,
                 "satisfaction": r.satisfaction, "submitted_at": r.submitted_at}
                for r in repository.closing_reports(self.db.session, exchange.id)]

    @rpc
    def cancel_exchange(self, exchange_id: str, payload: dict[str, Any],
                        idempotency_key: str | None = None) -> dict[str, Any]:
        return self._once("cancel_exchange", idempotency_key, [exchange_id, payload],
                          lambda: self._cancel_exchange(exchange_id, payload))

    def _cancel_exchange(self, exchange_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        data = load(_cancel, payload)
        return self._transition(exchange_id, lc.CANCEL, data.get("version"), data["reason"],
                                event="exchange_cancelled", cancel_reason=data["reason"])

    @handles("payments", "payout_approved")
    def handle_payout_approved(self, payload: dict[str, Any]) -> None:
        self._payment_event(payload, "handle_payout_approved", [(lc.APPROVE_PAYOUT, None)])

    @handles("payments", "payout_paid")
    def handle_payout_paid(self, payload: dict[str, Any]) -> None:
        self._payment_event(payload, "handle_payout_paid",
                            [(lc.PAY, None), (lc.CLOSE, "exchange_closed")])

    @handles("payments", "payout_failed")
    def handle_payout_failed(self, payload: dict[str, Any]) -> None:
        """A refused transfer leaves an approved exchange as it is; a returned one (after
        `payout_paid`) reopens the exchange until the next run pays it."""
        self._payment_event(payload, "handle_payout_failed", [(lc.RETURN_PAYOUT, None)])

    # --- helpers --------------------------------------------------------------------------

    def _visible(self, exchange_id: str, for_update: bool = False) -> tuple[Exchange, frozenset[str]]:
        caller = self.auth.caller
        exchange = repository.load_exchange(self.db.session, exchange_id, for_update)
        parts = _parties(exchange).of(caller)
        domain.ensure_visible(parts)
        return exchange, parts

    def _transition(self, exchange_id: str, action: str, version: int | None, comment: str | None,
                    event: str, not_proposer: bool = False,
                    cancel_reason: str | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        session = self.db.session
        exchange, parts = self._visible(exchange_id, for_update=True)
        domain.ensure_may(action, parts)
        if not_proposer and exchange.proposer_party in parts:
            raise NotAllowed("The other organisation answers a proposal, not the one who made it.")
        _check_version(exchange, version)
        target = lc.next_state(exchange.status, action)
        before, exchange.status, exchange.updated_at = exchange.status, target, utcnow()
        if cancel_reason is not None:
            exchange.cancel_reason = cancel_reason
        repository.add_timeline(session, exchange, caller.account_id, _main_part(parts), action,
                                before, comment)
        self._emit(exchange, event, caller.account_id)
        return self._flushed_view(exchange, parts)

    def _system_transition(self, exchange: Exchange, action: str, event: str | None,
                           comment: str | None = None) -> None:
        before = exchange.status
        exchange.status, exchange.updated_at = lc.next_state(exchange.status, action), utcnow()
        repository.add_timeline(self.db.session, exchange, None, "system", action, before, comment)
        if event:
            self._emit(exchange, event, None)

    def _payment_event(self, payload: dict[str, Any], handler: str,
                       steps: list[tuple[str, str | None]]) -> None:
        session = self.db.session
        if not first_delivery(session, InboxEvent, payload["event_id"], handler):
            return
        exchange = repository.load_exchange(session, payload["exchange_id"], for_update=True)
        position = domain.payout_position(payload)
        if position <= exchange.payout_position:
            session.commit()  # older than what the exchange already shows
            return
        exchange.payout_position = position
        for action, event in steps:
            if (exchange.status, action) in lc.TRANSITIONS:
                self._system_transition(exchange, action, event)
        session.commit()

    def _financial_agreement(self, exchange: Exchange, create: bool) -> FinancialAgreement:
        session = self.db.session
        agreement = repository.financial_agreement(session, exchange.id)
        if agreement is not None:
            return agreement
        if not create:
            raise NotFound("The financial agreement comes once the commitment is fully signed.")
        quote = self._quote(exchange)
        agreement = FinancialAgreement(exchange_id=exchange.id, amount_cents=int(quote["amount_cents"]),
                                       quote=quote)
        session.add(agreement)
        session.flush()
        return agreement

    def _quote(self, exchange: Exchange) -> dict[str, Any]:
        days = plan.stay_days(exchange.plan or {}, exchange.host_country)
        try:
            return self.rpc_client.call("payments", "quote_for_exchange", {
                "host_country": exchange.host_country,
                "working_days": days.working_days if days else 0,
                "mode": (exchange.plan or {}).get("mode") or "physical",
                "visitor_registration_id": exchange.visitor_registration_id,
                "host_registration_id": exchange.host_registration_id,
                "on_date": exchange.start_date,
            }, auth_token=self.auth.caller.token, confirm=True)
        except ServiceUnavailable as exc:
            raise ServiceUnavailable("The lump sum cannot be computed now (the payments service "
                                     "does not answer); try again shortly.") from exc

    def _reserve_budget(self, exchange: Exchange, amount_cents: int) -> None:
        """Payments reserves the lump sum now, before the last signature commits: one that
        does not fit is a 409 and the agreement stays unsigned. (Should this transaction fail
        after it, the reservation stays until the exchange is cancelled; a retry reuses it.)"""
        self.rpc_client.call("payments", "reserve_for_exchange", {
            "exchange_id": exchange.id, "partnership_id": exchange.visitor_partnership_id,
            "amount_cents": amount_cents}, auth_token=self.auth.caller.token, confirm=True)

    def _profiles(self, caller: Caller, registration_ids: list[str]) -> dict[str, domain.Side]:
        found = self.rpc_client.call("registration", "get_public_profiles", registration_ids,
                                     auth_token=caller.token)
        return {p["registration_id"]: domain.Side.from_profile(p) for p in found}

    def _pair_ids(self, caller: Caller, data: dict[str, Any]) -> tuple[str, str]:
        if data.get("contact_id"):
            contact = self.rpc_client.call("matching", "get_contact", data["contact_id"],
                                           auth_token=caller.token)
            if contact["status"] != "accepted":
                raise Conflict("An exchange is proposed from an accepted contact; this one is "
                               f"{contact['status']}.")
            mine, theirs = "requester_registration_id", "recipient_registration_id"
            if contact["direction"] == "received":
                mine, theirs = theirs, mine
            return contact[mine], contact[theirs]
        own = self.rpc_client.call("registration", "list_registrations", {"status": "accepted"},
                                   auth_token=caller.token)
        if not own["items"]:
            raise NotFound("You have no accepted registration to propose an exchange from.")
        return own["items"][0]["id"], data["counterpart_registration_id"]

    def _partnership_names(self) -> dict[str, str]:
        return {p["id"]: p["name"] for p in self.rpc_client.call("registration", "list_partnerships")}

    def _signer_name(self, caller: Caller) -> str:
        me = self.rpc_client.call("registration", "get_me", auth_token=caller.token)
        return me.get("full_name") or caller.account_id

    def _emit(self, exchange: Exchange, event_type: str, actor_id: str | None, **extra: Any) -> None:
        try:
            self.db.session.flush()  # assigns the version the event reports
        except StaleDataError as exc:
            raise StaleVersion("Someone else changed this exchange; reload it.") from exc
        record_event(self.db.session, OutboxEvent, make_event(event_type, {
            "exchange_id": exchange.id, "reference": exchange.reference, "status": exchange.status,
            "exchange_version": exchange.version, "content_version": exchange.content_version,
            "visitor_registration_id": exchange.visitor_registration_id,
            "visitor_organisation_id": exchange.visitor_organisation_id,
            "visitor_partnership_id": exchange.visitor_partnership_id,
            "visitor_country": exchange.visitor_country,
            "host_registration_id": exchange.host_registration_id,
            "host_organisation_id": exchange.host_organisation_id,
            "host_partnership_id": exchange.host_partnership_id,
            "host_country": exchange.host_country, "mode": (exchange.plan or {}).get("mode"),
            "start_date": exchange.start_date, "end_date": exchange.end_date, **extra,
        }, actor_id))

    def _flushed_view(self, exchange: Exchange, parts: frozenset[str]) -> dict[str, Any]:
        try:
            self.db.session.flush()  # a stale version shows here; the commit follows in _once
        except StaleDataError as exc:
            raise StaleVersion("Someone else changed this exchange; reload it.") from exc
        return self._view(exchange, parts)

    def _once(self, operation: str, key: str | None, request: Any,
              write: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run a write and commit it, at most once per Idempotency-Key."""
        return self.idempotency.run(self.db.session, key, self.auth.caller.account_id, operation,
                                    request, write)

    def _view(self, exchange: Exchange, parts: frozenset[str]) -> dict[str, Any]:
        return _exchange.dump(views.exchange_view(self.db.session, exchange, parts))


def _parties(exchange: Exchange) -> domain.ExchangeParties:
    return domain.ExchangeParties(exchange.visitor_account_id, exchange.host_account_id,
                                  exchange.visitor_partnership_id, exchange.host_partnership_id)


def _side_columns(prefix: str, side: domain.Side) -> dict[str, Any]:
    return {f"{prefix}_registration_id": side.registration_id,
            f"{prefix}_account_id": side.account_id,
            f"{prefix}_organisation_id": side.organisation_id,
            f"{prefix}_organisation_name": side.organisation_name,
            f"{prefix}_country": side.country, f"{prefix}_partnership_id": side.partnership_id}


def _proposer_role(requested: str | None, own: domain.Side, other: domain.Side) -> str:
    if requested:
        return requested
    if own.roles == {"visitor"} or (own.roles >= {"visitor", "host"} and other.roles == {"host"}):
        return "visitor"
    if own.roles == {"host"} or (own.roles >= {"visitor", "host"} and other.roles == {"visitor"}):
        return "host"
    raise ValidationFailed("Both of you may visit and host: say which side you take.",
                           {"role": ["Choose visitor or host."]})


def _main_part(parts: frozenset[str]) -> str:
    for part in ("vo", "ho", "vop", "hop", "admin"):
        if part in parts:
            return part
    return "system"


def _ensure_money_party(parts: frozenset[str]) -> None:
    if not parts.intersection({"vo", "vop", "admin"}):
        raise NotFound("No financial agreement you may see.")


def _check_version(exchange: Exchange, version: int | None, required: bool = False) -> None:
    if version is None:
        if required:
            raise PreconditionRequired("Say which version you edited: send `version` or If-Match.")
        return
    if exchange.version != version:
        raise StaleVersion(f"You edited version {version}; the exchange is now at version "
                           f"{exchange.version}. Reload it and apply your change again.")


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge member by member, `null` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _today() -> date:
    return datetime.now(UTC).date()
