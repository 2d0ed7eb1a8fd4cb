"""Exchanges as their readers see them: what a party may know, and what it may do next."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.agreements import lifecycle as lc
from services.agreements import repository
from services.agreements.models import Exchange, FinancialAgreement
from services.agreements.plan import stay_days


def side(exchange: Exchange, prefix: str) -> dict[str, Any]:
    return {"registration_id": getattr(exchange, f"{prefix}_registration_id"),
            "organisation_name": getattr(exchange, f"{prefix}_organisation_name"),
            "country": getattr(exchange, f"{prefix}_country"),
            "partnership_id": getattr(exchange, f"{prefix}_partnership_id")}


def caller_actions(exchange: Exchange, parts: frozenset[str]) -> list[str]:
    """The actions the caller could take now (the UI shows these as buttons)."""
    actions = []
    for action in lc.allowed_actions(exchange.status):
        if not lc.ACTORS[action].intersection(parts):
            continue
        if action in (lc.CONFIRM, lc.DECLINE) and exchange.proposer_party in parts:
            continue
        actions.append(action)
    return actions


def exchange_view(session: Session, exchange: Exchange, parts: frozenset[str]) -> dict[str, Any]:
    days = stay_days(exchange.plan or {}, exchange.host_country)
    signed = {s.party: s for s in repository.signatures(session, exchange)}
    document = repository.document(session, exchange)
    return {
        "id": exchange.id, "reference": exchange.reference, "version": exchange.version,
        "status": exchange.status, "proposer_party": exchange.proposer_party,
        "contact_id": exchange.contact_id, "visitor": side(exchange, "visitor"),
        "host": side(exchange, "host"), "plan": exchange.plan or {},
        "content_version": exchange.content_version,
        "working_days": days.working_days if days else None,
        "your_parts": sorted(parts), "allowed_actions": caller_actions(exchange, parts),
        "validations": [{"party": v.party, "decision": v.decision, "comment": v.comment,
                         "decided_at": v.decided_at}
                        for v in repository.validations(session, exchange)],
        "signatures": [{
            "party": party, "signed": party in signed,
            "signer_name": signed[party].signer_name if party in signed else None,
            "method": signed[party].method if party in signed else None,
            "external_signer": signed[party].external_signer if party in signed else None,
            "document_sha256": signed[party].document_sha256 if party in signed else None,
            "signed_at": signed[party].signed_at if party in signed else None,
        } for party in repository.SIGNATORIES],
        "document": None if document is None else {
            "content_version": document.content_version, "sha256": document.sha256,
            "size": document.size, "created_at": document.created_at},
        "cancel_reason": exchange.cancel_reason,
        "created_at": exchange.created_at, "updated_at": exchange.updated_at,
    }


def financial_agreement_view(agreement: FinancialAgreement) -> dict[str, Any]:
    return {
        "exchange_id": agreement.exchange_id, "version": agreement.version,
        "amount_cents": agreement.amount_cents, "quote": agreement.quote,
        "account_holder": agreement.account_holder,
        "iban_masked": agreement.iban_masked,
        "bic": agreement.bic, "vo_signed_at": agreement.vo_signed_at,
        "vop_signed_at": agreement.vop_signed_at,
        "signed": agreement.vo_signed_at is not None and agreement.vop_signed_at is not None,
    }
