"""Shared pieces: tokens, error mapping, schemas, sniffing, rate limits, event contracts."""

from __future__ import annotations

import time

import jwt
import pytest
from nameko.exceptions import deserialize, serialize

from common.auth import TokenService, generate_key
from common.errors import PayloadTooLarge, StaleVersion, Unauthorized, UnsupportedMediaType, ValidationFailed
from common.events import make_event
from common.schemas import flatten_errors
from common.storage import DOCUMENT_TYPES, check_document
from gateway.ratelimit import SlidingWindow
from tests.helpers import MINIMAL_PDF, docx_bytes, exe_bytes


@pytest.fixture
def service(tmp_path):
    return TokenService({"keys_dir": str(tmp_path), "ttl_seconds": 60}, generate=True)


def test_token_round_trip(service):
    token, ttl = service.issue("acc", ["participant"], "org", None)
    caller = service.verify(token)
    assert (caller.account_id, caller.roles, caller.org_id, ttl) == ("acc", {"participant"}, "org", 60)
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


def test_tampered_and_expired_tokens_are_refused(service, tmp_path):
    token, _ = service.issue("acc", ["participant"], None, None)
    header, payload, signature = token.split(".")
    hmac_key = "a-secret-that-is-long-enough-for-hs256!!"
    forged = jwt.encode({"account_id": "acc", "roles": ["admin"]}, hmac_key, algorithm="HS256")
    for bad in (f"{header}.{payload}x.{signature}", forged, "garbage"):
        with pytest.raises(Unauthorized):
            service.verify(bad)
    service.ttl = -1
    expired, _ = service.issue("acc", ["participant"], None, None)
    with pytest.raises(Unauthorized, match="expired"):
        service.verify(expired)


def test_key_rotation_keeps_old_tokens_valid(tmp_path):
    old = TokenService({"keys_dir": str(tmp_path)}, generate=True)
    old_token, _ = old.issue("acc", ["participant"], None, None)
    time.sleep(1.1)
    new_kid = generate_key(tmp_path)
    rotated = TokenService({"keys_dir": str(tmp_path)}, generate=True)
    new_token, _ = rotated.issue("acc", ["participant"], None, None)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert rotated.verify(old_token).account_id == "acc"
    old.keyring._last_reload = 0
    assert old.verify(new_token).account_id == "acc"  # picks up the rotated key


def test_errors_cross_rpc_as_themselves():
    error = ValidationFailed("Bad", {"organisation.name": ["Missing"]})
    again = deserialize(serialize(error))
    assert isinstance(again, ValidationFailed)
    assert again.errors == {"organisation.name": ["Missing"]} and again.status == 422
    assert deserialize(serialize(StaleVersion("old"))).to_problem()["status"] == 409


def test_nested_marshmallow_errors_flatten_to_paths():
    messages = {"organisation": {"name": ["Missing."]}, "preferences": {"availability": {
        0: {"end": ["Too early."]}}}, "roles": ["Bad."]}
    assert flatten_errors(messages) == {"organisation.name": ["Missing."],
                                        "preferences.availability.0.end": ["Too early."],
                                        "roles": ["Bad."]}


def test_documents_are_sniffed_not_trusted():
    assert check_document(MINIMAL_PDF, DOCUMENT_TYPES, 1000) == "application/pdf"
    assert check_document(docx_bytes(), DOCUMENT_TYPES, 10_000).endswith("wordprocessingml.document")
    with pytest.raises(UnsupportedMediaType):
        check_document(exe_bytes(), DOCUMENT_TYPES, 10_000)
    with pytest.raises(UnsupportedMediaType):
        check_document(b"", DOCUMENT_TYPES, 10)
    with pytest.raises(PayloadTooLarge):
        check_document(MINIMAL_PDF, DOCUMENT_TYPES, 10)


def test_sliding_window():
    window = SlidingWindow(limit=2, window_seconds=60)
    assert window.hit("ip", 0) and window.hit("ip", 1)
    assert not window.hit("ip", 2)
    assert window.hit("other", 2)
    assert window.hit("ip", 61)


def test_events_carry_id_version_and_time():
    event = make_event("registration_accepted", {"registration_id": "r"}, "actor")
    assert set(event) >= {"event_id", "version", "occurred_at", "event_type", "actor_id"}
    with pytest.raises(ValueError):
        make_event("registration_exploded", {})
