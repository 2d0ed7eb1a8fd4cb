"""A partnership back-office (API key, role `backoffice`): reads its partnership's
registrations and exchanges, acts on nothing, sees nothing of another partnership."""

from __future__ import annotations

import pytest

from common.auth import Caller
from common.errors import NotAllowed, NotFound
from services.agreements import lifecycle as lc
from services.agreements.domain import ExchangeParties, ensure_may, ensure_visible
from services.registration import domain


def _backoffice(partnership: str | None = "p1") -> Caller:
    return Caller("apikey:k1", frozenset({"backoffice"}), None, partnership)


def test_a_backoffice_sees_its_partnerships_registrations_only():
    domain.ensure_visible(_backoffice(), "someone", "p1")
    with pytest.raises(NotFound):
        domain.ensure_visible(_backoffice(), "someone", "p2")
    with pytest.raises(NotFound):
        domain.ensure_visible(_backoffice(None), "someone", "p1")  # fails closed
    assert domain.visible_scope(_backoffice()) == (None, "p1")
    assert domain.visible_scope(_backoffice(None)) is None


def test_a_backoffice_changes_no_registration():
    with pytest.raises(NotAllowed):
        domain.ensure_owner(_backoffice(), "someone")
    with pytest.raises(NotAllowed):
        domain.ensure_assessor(_backoffice(), "p1")


def test_a_backoffice_reads_its_partnerships_exchanges_and_acts_on_none():
    parties = ExchangeParties("vo", "ho", "p1", "p2")
    parts = parties.of(_backoffice("p2"))
    assert parts == {"backoffice"}
    ensure_visible(parts)
    for action in lc.ACTORS:
        with pytest.raises(NotAllowed):
            ensure_may(action, parts)
    with pytest.raises(NotFound):
        ensure_visible(parties.of(_backoffice("p3")))


def test_an_unverified_address_submits_nothing():
    with pytest.raises(NotAllowed, match="Verify your email"):
        domain.ensure_email_verified(None)
    domain.ensure_email_verified("2026-11-25T12:00:00Z")
