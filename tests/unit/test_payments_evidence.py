"""Evidence rules and the payment claim's states."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, date, datetime

import pytest

from common.errors import InvalidState, PayloadTooLarge, UnsupportedMediaType
from services.payments import evidence
from services.payments.evidence import (
    APPROVE,
    APPROVED,
    CHANGES_REQUESTED,
    CLAIM_ACTIONS,
    CLAIM_STATES,
    CLAIM_TRANSITIONS,
    DRAFT,
    REQUEST_CHANGES,
    SUBMIT,
    SUBMITTED,
)

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
DOCX = b"PK\x03\x04" + b"\x00" * 26 + b"word/document.xml" + b"\x00" * 64


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("data,expected", [(PDF, "application/pdf"), (JPEG, "image/jpeg")])
def test_pdf_and_jpeg_are_accepted_by_their_bytes(data, expected):
    assert evidence.check_evidence(data) == expected


def test_png_is_accepted_by_its_bytes():
    assert evidence.check_evidence(png_bytes()) == "image/png"


@pytest.mark.parametrize("data", [b"hello, I am an invoice", DOCX, b"GIF89a" + b"\x00" * 32])
def test_other_content_is_refused_whatever_its_name(data):
    with pytest.raises(UnsupportedMediaType):
        evidence.check_evidence(data)


def test_empty_file_is_refused():
    with pytest.raises(UnsupportedMediaType):
        evidence.check_evidence(b"")


def test_ten_megabytes_is_the_limit():
    at_limit = PDF + b"\x00" * (10 * 1024 * 1024 - len(PDF))
    assert evidence.check_evidence(at_limit) == "application/pdf"
    with pytest.raises(PayloadTooLarge):
        evidence.check_evidence(at_limit + b"\x00")


EXPECTED = {
    (DRAFT, SUBMIT): SUBMITTED,
    (CHANGES_REQUESTED, SUBMIT): SUBMITTED,
    (SUBMITTED, APPROVE): APPROVED,
    (SUBMITTED, REQUEST_CHANGES): CHANGES_REQUESTED,
}


@pytest.mark.parametrize("state", CLAIM_STATES)
@pytest.mark.parametrize("action", CLAIM_ACTIONS)
def test_every_state_and_action(state, action):
    if (state, action) in EXPECTED:
        assert evidence.next_claim_state(state, action) == EXPECTED[(state, action)]
    else:
        with pytest.raises(InvalidState):
            evidence.next_claim_state(state, action)


def test_transition_table_is_exactly_the_documented_one():
    assert CLAIM_TRANSITIONS == EXPECTED


def test_an_approved_claim_is_final():
    for action in CLAIM_ACTIONS:
        with pytest.raises(InvalidState, match="An approved claim cannot be"):
            evidence.next_claim_state(APPROVED, action)


@pytest.mark.parametrize("state", [DRAFT, CHANGES_REQUESTED])
def test_evidence_is_editable_while_the_visitor_holds_the_claim(state):
    evidence.ensure_evidence_editable(state)


@pytest.mark.parametrize("state", [SUBMITTED, APPROVED])
def test_evidence_is_frozen_under_review_and_after(state):
    with pytest.raises(InvalidState):
        evidence.ensure_evidence_editable(state)


def test_a_claim_needs_evidence_to_be_submitted():
    with pytest.raises(InvalidState, match="at least one piece of evidence"):
        evidence.ensure_submittable(DRAFT, 0)
    evidence.ensure_submittable(DRAFT, 1)
    with pytest.raises(InvalidState):
        evidence.ensure_submittable(SUBMITTED, 3)


def test_payment_is_due_ten_days_after_approval():
    approved = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)
    assert evidence.due_on(approved) == date(2026, 12, 5)


def test_overdue_only_after_the_due_date_and_while_unpaid():
    due = date(2026, 12, 5)
    assert not evidence.is_overdue(due, date(2026, 12, 5), paid=False)
    assert evidence.is_overdue(due, date(2026, 12, 6), paid=False)
    assert not evidence.is_overdue(due, date(2026, 12, 6), paid=True)
