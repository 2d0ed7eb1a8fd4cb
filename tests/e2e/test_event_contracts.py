"""Every event the services really publish matches its contract in common.event_schemas (the
source of the AsyncAPI document and of what webhooks send): a queue bound with `#` to every
event exchange taps two whole journeys (registration, matching, withdrawal; an exchange
through to its payout paid and closed) and validates each event it saw."""

from __future__ import annotations

from collections import Counter

import pytest

from common.event_schemas import EVENT_SCHEMAS, INTERNAL_EVENTS, contract_errors
from tests.e2e import test_event_privacy, test_payment_journey
from tests.e2e.test_event_privacy import ExchangeTap

pytestmark = pytest.mark.e2e


@pytest.fixture
def tap(rabbit_config):
    listening = ExchangeTap(rabbit_config["AMQP_URI"])
    yield listening
    listening.close()


def _valid(tap: ExchangeTap, expected: set[str]) -> Counter:
    tap.until(lambda events: expected <= {e["event_type"] for e in events}, timeout=20)
    seen = Counter()
    for event in tap.events():
        if event["event_type"] in INTERNAL_EVENTS:
            continue  # account and session events: ids only, checked by test_event_privacy
        assert contract_errors(event) == {}, (event["event_type"], contract_errors(event), event)
        seen[event["event_type"]] += 1
    return seen


def test_events_of_the_participant_journey_match_their_contracts(api, db_engines, rabbit_config, tap):
    test_event_privacy.test_no_personal_data_reaches_the_event_exchanges(api, db_engines, rabbit_config)
    seen = _valid(tap, {"registration_submitted", "registration_accepted", "registration_updated",
                        "contact_requested", "contact_accepted", "message_posted",
                        "registration_withdrawn"})
    assert seen["registration_accepted"] == 2


def test_events_of_the_exchange_and_payment_journey_match_their_contracts(
        api, db_engines, tokens, agreements_container, lump_sum_table, tap):
    test_payment_journey.test_a_reported_exchange_is_claimed_approved_batched_paid_and_closed(
        api, db_engines, tokens, agreements_container, lump_sum_table)
    seen = _valid(tap, {"exchange_proposed", "exchange_confirmed", "exchange_submitted",
                        "exchange_validated", "commitment_signed", "commitment_fully_signed",
                        "financial_agreement_signed", "exchange_started", "exchange_completed",
                        "closing_report_submitted", "payout_approved", "payout_paid",
                        "exchange_closed"})
    assert seen["commitment_signed"] == 4


def test_every_public_event_type_has_a_contract():
    from common.events import EVENTS_BY_SOURCE

    every = {event for events in EVENTS_BY_SOURCE.values() for event in events}
    assert set(EVENT_SCHEMAS) == every - INTERNAL_EVENTS
    assert contract_errors({"event_type": "registration_accepted", "event_id": "x"})
