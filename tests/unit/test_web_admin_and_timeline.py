"""The administration's pieces that need no running system: amounts typed in euros, the one
list of admin pages, page groups' helpers that must not shadow each other, and an exchange's
steps in words with what its payment claim adds."""

from __future__ import annotations

import collections
from datetime import UTC, datetime

import pytest

from gateway.web.admin import ADMIN_PAGES
from gateway.web.admin_money import cents_from, euros_field
from gateway.web.timeline import steps


@pytest.mark.parametrize(("typed", "cents"), [
    ("780", 78_000), ("780.5", 78_050), ("780,50", 78_050), (" 1 100 € ", 110_000), ("0", 0),
    ("", None), ("7.805", None), ("-5", None), ("eight", None), ("1e3", None)])
def test_amounts_are_typed_in_euros(typed, cents):
    assert cents_from(typed) == cents


def test_amounts_are_shown_back_as_typed():
    assert [euros_field(c) for c in (78_000, 78_050, 5, None)] == ["780", "780.50", "0.05", ""]


def test_every_admin_page_is_listed_once_under_admin():
    paths = [path for path, _label, _what in ADMIN_PAGES]
    assert len(paths) == len(set(paths)) and all(p.startswith("/admin/") for p in paths)


def test_no_helper_of_one_page_group_shadows_another():
    """Page groups are mixed into one class: a `_helper` defined twice silently calls the
    other group's (with other arguments)."""
    from gateway.service import GatewayService
    from gateway.web.pages import WebRoutes

    owners = collections.defaultdict(list)
    for cls in GatewayService.__mro__[1:]:
        if issubclass(cls, WebRoutes) and cls is not WebRoutes:
            for name, value in vars(cls).items():
                if callable(value) and name.startswith("_") and not name.startswith("__"):
                    owners[name].append(cls.__name__)
    assert {name: found for name, found in owners.items() if len(found) > 1} == {}


def test_the_steps_of_an_exchange_in_words_with_its_payment():
    timeline = [
        {"at": "2026-03-01T09:00:00", "party": "vo", "action": "propose", "comment": None},
        {"at": datetime(2026, 3, 2, 10, 0), "party": "vop+hop", "action": "reject",
         "comment": "Dates overlap a holiday."},
        {"at": "2026-03-20T08:00:00+00:00", "party": "system", "action": "approve_payout",
         "comment": None},
        {"at": "2026-03-03T10:00:00", "party": "ho", "action": "something_new", "comment": None},
    ]
    claim = {"state": "approved", "submitted_at": "2026-03-18T12:00:00+00:00",
             "reviewed_at": "2026-03-19T12:00:00+00:00", "review_comment": "All there.",
             "payout": {"amount_cents": 78_000, "paid_at": "2026-03-25T09:00:00+00:00",
                        "failed_at": None}}
    found = steps(timeline, claim, lambda message: message)
    assert [s.text for s in found] == [
        "The visiting organisation proposed the exchange.",
        "The visitor's partnership and the host's partnership rejected the plan.",
        "The host organisation: something new.",
        "The visiting organisation submitted the payment claim with its evidence.",
        "The visitor's partnership approved the payment claim: €780.00.",
        "The exchange was approved for payment.",
        "The bank paid €780.00 to the visiting organisation.",
    ]
    assert found[1].comment == "Dates overlap a holiday." and found[4].comment == "All there."
    assert [s.payment for s in found] == [False, False, False, True, True, False, True]
    assert found[0].at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert found[0].iso == "2026-03-01T09:00:00+00:00"


def test_a_claim_sent_back_and_a_refused_transfer_are_steps_too():
    claim = {"state": "changes_requested", "submitted_at": "2026-03-18T12:00:00",
             "reviewed_at": "2026-03-19T12:00:00", "review_comment": "The boarding pass?",
             "payout": None}
    texts = [s.text for s in steps([], claim, lambda message: message)]
    assert texts[-1] == "The visitor's partnership sent the payment claim back for changes."
    failed = {"state": "approved", "submitted_at": None, "reviewed_at": None,
              "payout": {"amount_cents": 39_000, "paid_at": None,
                         "failed_at": "2026-04-01T08:00:00", "failure_reason": "AC04 closed"}}
    [step] = steps([], failed, lambda message: message)
    assert step.text == "The bank did not make the transfer of €390.00."
    assert step.comment == "AC04 closed"
    assert steps([], None, lambda message: message) == []


def test_a_step_shows_its_amount_in_the_page_language():
    failed = {"state": "approved", "submitted_at": None, "reviewed_at": None,
              "payout": {"amount_cents": 110_000, "paid_at": None,
                         "failed_at": "2026-04-01T08:00:00", "failure_reason": None}}
    [step] = steps([], failed, lambda message: message, "fr")
    assert "1\u202f100,00\xa0€" in step.text or "1\xa0100,00\xa0€" in step.text
