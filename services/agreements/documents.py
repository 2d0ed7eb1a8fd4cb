"""The commitment's files: rendered once per content version, stored content-addressed, and
sealed once per signature. CPU work runs in native threads so other requests keep flowing."""

from __future__ import annotations

import hashlib
from typing import Any

from eventlet import tpool
from sqlalchemy.orm import Session

from common.storage import PDF, ObjectStore
from services.agreements import repository
from services.agreements.commitment_pdf import render_commitment
from services.agreements.models import Document, Exchange
from services.agreements.plan import stay_days
from services.agreements.sealing import SealingIdentity, check_seals, seal


def content_key(exchange_id: str, sha256: str) -> str:
    return f"commitments/{exchange_id}/{sha256}.pdf"


def document_input(exchange: Exchange, partnership_names: dict[str, str]) -> dict[str, Any]:
    days = stay_days(exchange.plan or {}, exchange.host_country)
    return {
        "reference": exchange.reference, "version": exchange.content_version,
        "working_days": days.working_days if days else None,
        "parties": {
            "vo": {"name": exchange.visitor_organisation_name, "country": exchange.visitor_country},
            "ho": {"name": exchange.host_organisation_name, "country": exchange.host_country},
            "vop": {"name": partnership_names.get(exchange.visitor_partnership_id, "")},
            "hop": {"name": partnership_names.get(exchange.host_partnership_id, "")},
        },
        "plan": exchange.plan or {},
    }


def ensure_document(session: Session, store: ObjectStore, exchange: Exchange,
                    partnership_names: dict[str, str]) -> Document:
    """The current content version's document, rendered and stored the first time."""
    existing = repository.document(session, exchange)
    if existing is not None:
        return existing
    data = tpool.execute(render_commitment, document_input(exchange, partnership_names))
    sha256 = hashlib.sha256(data).hexdigest()
    key = content_key(exchange.id, sha256)
    store.put_at(key, data, PDF)
    document = Document(exchange_id=exchange.id, content_version=exchange.content_version,
                        sha256=sha256, storage_key=key, size=len(data))
    session.add(document)
    session.flush()
    return document


def add_seal(store: ObjectStore, identity: SealingIdentity, document: Document, field: str,
             signer_name: str, reason: str) -> tuple[str, str]:
    """The document with one more seal, stored; returns its key and SHA-256."""
    current = store.get(document.sealed_key or document.storage_key)
    sealed = tpool.execute(seal, current, identity, field, signer_name, reason)
    # The recorded size and hash say what the first bytes must be: no second download.
    if hashlib.sha256(sealed[:document.size]).hexdigest() != document.sha256:
        raise RuntimeError("a sealed copy must start with the document's own bytes")
    sha256 = hashlib.sha256(sealed).hexdigest()
    key = f"commitments/{document.exchange_id}/sealed/{sha256}.pdf"
    store.put_at(key, sealed, PDF)
    return key, sha256


def external_signer(uploaded: bytes, original: bytes) -> str | None:
    """Who signed an uploaded PDF elsewhere (e.g. with a qualified certificate), when it is
    the exact document with at least one intact, valid signature appended; None for anything
    else (a scan of a paper signature)."""
    if not uploaded.startswith(original) or len(uploaded) == len(original):
        return None
    try:
        checks = check_seals(uploaded)
    except Exception:  # a PDF pyHanko cannot read is not a verifiable signed copy
        return None
    good = [c for c in checks if c.intact and c.valid]
    return good[0].certificate_subject if good else None
