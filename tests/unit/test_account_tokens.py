"""The rules of account-email links, API keys and the revocation list, without a database."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from common.auth import RevocationList, TokenService
from common.errors import Unauthorized, ValidationFailed
from services.registration import account_tokens as links

SECRET = b"a test secret that is long enough"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _row(purpose: str = links.RESET_PASSWORD, expires_in: timedelta = timedelta(minutes=30),
         used: bool = False) -> links.RequestRow:
    return links.RequestRow(str(uuid.uuid4()), str(uuid.uuid4()), purpose, NOW + expires_in,
                            NOW if used else None)


def test_a_fresh_link_is_accepted_for_its_purpose():
    row = _row()
    token = links.make_token(SECRET, row.purpose, row.account_id, row.id)
    assert links.request_id_of(token) == row.id
    links.check_token(SECRET, token, row, links.SETS_PASSWORD, NOW)


@pytest.mark.parametrize("case", ["expired", "used", "other purpose", "other secret",
                                  "other account", "tampered mac", "other request", "no row"])
def test_a_link_is_refused_alike_when(case):
    row = _row()
    token = links.make_token(SECRET, row.purpose, row.account_id, row.id)
    purposes = links.SETS_PASSWORD
    if case == "expired":
        row = _row(expires_in=timedelta(0))
        token = links.make_token(SECRET, row.purpose, row.account_id, row.id)
    elif case == "used":
        row = _row(used=True)
        token = links.make_token(SECRET, row.purpose, row.account_id, row.id)
    elif case == "other purpose":
        purposes = (links.VERIFY_EMAIL,)
    elif case == "other secret":
        token = links.make_token(b"another secret", row.purpose, row.account_id, row.id)
    elif case == "other account":
        token = links.make_token(SECRET, row.purpose, str(uuid.uuid4()), row.id)
    elif case == "tampered mac":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif case == "other request":
        other = _row()
        token = links.make_token(SECRET, other.purpose, other.account_id, other.id)
    elif case == "no row":
        row = None
    with pytest.raises(ValidationFailed) as refused:
        links.check_token(SECRET, token, row, purposes, NOW)
    assert refused.value.errors == {"token": [links.BAD_LINK]}


@pytest.mark.parametrize("token", [None, 42, "", "no-dot", "a.b.c", "not-a-uuid.mac", "x" * 300])
def test_malformed_tokens_name_no_request(token):
    with pytest.raises(ValidationFailed):
        links.request_id_of(token)


def test_a_verification_link_does_not_reset_a_password():
    row = _row(purpose=links.VERIFY_EMAIL)
    token = links.make_token(SECRET, row.purpose, row.account_id, row.id)
    with pytest.raises(ValidationFailed):
        links.check_token(SECRET, token, row, links.SETS_PASSWORD, NOW)


def test_the_local_secret_is_made_once_and_kept(tmp_path):
    first = links.load_secret({}, str(tmp_path))
    assert first == links.load_secret({"token_secret": ""}, str(tmp_path))
    assert oct((tmp_path / links.SECRET_FILE).stat().st_mode & 0o777) == "0o600"
    assert links.load_secret({"token_secret": "configured"}, str(tmp_path)) == b"configured"


def test_an_api_key_is_stored_only_as_a_hash():
    new = links.new_api_key()
    prefix, secret = links.split_api_key(new.key)
    assert prefix == new.prefix and links.is_api_key(new.key)
    assert secret not in new.secret_sha256 and links.secret_matches(secret, new.secret_sha256)
    assert not links.secret_matches(secret + "x", new.secret_sha256)
    for bad in ("cxk_", "cxk_abc", "cxk_a.b.c", "Bearer x", None, "cxk_" + "a" * 300):
        assert links.split_api_key(bad) is None


@pytest.fixture
def tokens(tmp_path):
    return TokenService({"keys_dir": str(tmp_path), "ttl_seconds": 60}, generate=True)


def test_a_signed_out_session_is_refused_even_when_cached(tokens):
    token, _ = tokens.issue("acc", ["participant"], None, None, session_id="s1")
    other, _ = tokens.issue("acc", ["participant"], None, None, session_id="s2")
    assert tokens.verify(token).session_id == "s1"  # now in the verified cache
    tokens.revoked.apply({"account_id": "acc", "session_id": "s1", "until": time.time() + 60})
    with pytest.raises(Unauthorized, match="signed out"):
        tokens.verify(token)
    assert tokens.verify(other).account_id == "acc"


def test_signing_out_everywhere_spares_tokens_issued_afterwards(tokens):
    before, _ = tokens.issue("acc", ["participant"], None, None)
    time.sleep(0.01)
    cutoff = time.time()
    time.sleep(0.01)
    after, _ = tokens.issue("acc", ["participant"], None, None)
    tokens.revoked.apply({"account_id": "acc", "not_before": cutoff, "until": time.time() + 60})
    with pytest.raises(Unauthorized):
        tokens.verify(before)
    assert tokens.verify(after).account_id == "acc"
    someone_else, _ = tokens.issue("other", ["participant"], None, None)
    assert tokens.verify(someone_else).account_id == "other"


def test_revocations_are_forgotten_once_no_token_can_be_covered():
    revoked = RevocationList()
    revoked.apply({"account_id": "a", "session_id": "s", "until": 100.0})
    revoked.apply({"account_id": "b", "not_before": 50.0, "until": 200.0})
    revoked.forget_expired(now=150.0)
    assert revoked.sessions == {} and set(revoked.accounts) == {"b"}
    # An older cutoff never replaces a newer one.
    revoked.apply({"account_id": "b", "not_before": 10.0, "until": 300.0})
    assert revoked.accounts["b"][0] == 50.0


def test_an_expired_token_is_refused_even_when_cached(tokens):
    token, _ = tokens.issue("acc", ["participant"], None, None, ttl=1)
    assert tokens.verify(token).account_id == "acc"  # now in the verified cache
    assert token in tokens._verified
    time.sleep(2.1)
    with pytest.raises(Unauthorized, match="expired"):
        tokens.verify(token)
    assert token not in tokens._verified


def test_signing_out_everywhere_refuses_a_cached_token_at_once(tokens):
    token, _ = tokens.issue("acc", ["participant"], None, None)
    assert tokens.verify(token).account_id == "acc"  # cached
    tokens.revoked.apply({"account_id": "acc", "not_before": time.time() + 1,
                          "until": time.time() + 60})
    with pytest.raises(Unauthorized, match="signed out"):
        tokens.verify(token)


def test_a_tampered_copy_of_a_cached_token_is_not_taken_from_the_cache(tokens):
    token, _ = tokens.issue("acc", ["participant"], None, None)
    tokens.verify(token)
    header, payload, signature = token.split(".")
    forged = ".".join([header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")])
    with pytest.raises(Unauthorized):
        tokens.verify(forged)


@pytest.mark.parametrize("header", ["", "!!!", "bm90IGpzb24", "W10", "eyJraWQiOiAxfQ"])
def test_a_token_whose_header_names_no_usable_key_is_refused(tokens, header):
    # not base64, not JSON, not an object, a kid that is not a string
    _, payload, signature = tokens.issue("someone", ["participant"], None, None)[0].split(".")
    with pytest.raises(Unauthorized):
        tokens.verify(f"{header}.{payload}.{signature}")


def test_a_token_naming_a_known_key_but_signed_by_another_is_refused(tokens, tmp_path):
    other = TokenService({"keys_dir": str(tmp_path / "other"), "ttl_seconds": 60})
    forged = other.issue("someone", ["admin"], None, None)[0]
    ours = tokens.issue("someone", ["participant"], None, None)[0]
    # our header (our kid), their payload and signature
    with pytest.raises(Unauthorized, match="not valid"):
        tokens.verify(".".join([ours.split(".")[0], *forged.split(".")[1:]]))
