"""The payments service through the broker: quotes from registration's profiles, budgets,
and the money movements agreements' events cause, on PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.errors import NotFound, StaleVersion
from common.events import make_event
from services.payments.exceptions import NoLumpSumRate
from services.payments.models import Claim, LedgerEntry
from tests.helpers import make_account, partnership_id, publish_event, registration_payload, unique_email

BERLIN = {"country": "DE", "city": "Berlin", "latitude": 52.52, "longitude": 13.40}
PORTO = {"country": "PT", "city": "Porto", "latitude": 41.15, "longitude": -8.61}


@pytest.fixture
def rpc_as(config: dict[str, Any], tokens: Any):
    proxies = []

    def make(service: str, account_id: str | None = None, roles: tuple[str, ...] = ("admin",),
             partnership: str | None = None):
        context = {}
        if account_id is not None:
            token, _ = tokens.issue(account_id, list(roles), None, partnership)
            context["auth_token"] = token
        proxy = ClusterRpcProxy(config, context_data=context)
        proxies.append(proxy)
        return getattr(proxy.start(), service)

    yield make
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def services(registration_container: Any, payments_container: Any, lump_sum_table: None) -> Any:
    return payments_container


def admin(rpc_as) -> Any:
    return rpc_as("payments", str(uuid.uuid4()), ("admin",))


def registration(rpc_as, db_engines, organisation: dict[str, Any]) -> str:
    account = make_account(db_engines["registration"], unique_email("p"), ["participant"])
    payload = registration_payload(partnership_id(db_engines["registration"], "GREENMOB"))
    payload["organisation"].update(organisation)
    return rpc_as("registration", account, ("participant",)).create_registration(payload)["id"]


def exchange_request(visitor: str, host: str, **overrides: Any) -> dict[str, Any]:
    return {"host_country": "PT", "working_days": 5, "mode": "physical",
            "visitor_registration_id": visitor, "host_registration_id": host,
            "on_date": "2026-12-01", **overrides}


def test_quotes_for_an_exchange_follow_the_scheme(rpc_as, db_engines, services):
    visitor = registration(rpc_as, db_engines, BERLIN)
    host = registration(rpc_as, db_engines, PORTO)
    payments = admin(rpc_as)

    five_days = payments.quote_for_exchange(exchange_request(visitor, host))
    assert five_days["amount_cents"] == 78_000 and five_days["halved"] is False
    assert 2_000 < five_days["distance_km"] < 2_400
    assert five_days["rules"][0]["text"] == "Full rate for a stay in Portugal: €780.00"

    three_days = payments.quote_for_exchange(exchange_request(visitor, host, working_days=3))
    assert three_days["amount_cents"] == 39_000
    assert "Halved: 3 working days is under 5" in [rule["text"] for rule in three_days["rules"]]

    assert payments.quote_for_exchange(exchange_request(visitor, host, mode="virtual"))[
        "amount_cents"] == 0

    with pytest.raises(NoLumpSumRate) as raised:
        payments.quote_for_exchange(exchange_request(host, visitor, host_country="DE"))
    assert raised.value.status == 422 and "Germany (DE)" in raised.value.detail
    assert "host_country" in raised.value.errors


def test_a_participant_cannot_quote_for_registrations_it_cannot_see(rpc_as, db_engines, services):
    visitor = registration(rpc_as, db_engines, BERLIN)
    host = registration(rpc_as, db_engines, PORTO)
    stranger = rpc_as("payments", str(uuid.uuid4()), ("participant",))
    with pytest.raises(NotFound):
        stranger.quote_for_exchange(exchange_request(visitor, host))


def test_the_public_quote_needs_no_token(rpc_as, services):
    anonymous = rpc_as("payments")
    assert anonymous.quote({"host_country": "PT", "working_days": 3})["amount_cents"] == 39_000
    assert anonymous.list_lump_sums()["rates"][0]["amount_cents"] == 78_000


# --- budgets and agreements' events ------------------------------------------------------------

def handled(container: Any, method: str, count: int, timeout: float = 15):
    """Waits (as a context manager) until `method` has handled `count` deliveries, failed or not."""
    seen = []

    def counted(worker_ctx, result, exc_info):
        seen.append(exc_info)
        return len(seen) >= count

    return entrypoint_waiter(container, method, callback=counted, timeout=timeout)


def signed(partnership: str, amount_cents: int, exchange_id: str | None = None) -> dict[str, Any]:
    exchange_id = exchange_id or str(uuid.uuid4())
    return make_event("financial_agreement_signed", {
        "exchange_id": exchange_id, "reference": f"CXC-2026-{exchange_id[:6]}", "status": "ready",
        "visitor_partnership_id": partnership, "host_country": "PT", "mode": "physical",
        "amount_cents": amount_cents}, str(uuid.uuid4()))


def cancelled(partnership: str, exchange_id: str) -> dict[str, Any]:
    return make_event("exchange_cancelled", {
        "exchange_id": exchange_id, "reference": f"CXC-2026-{exchange_id[:6]}",
        "status": "cancelled", "visitor_partnership_id": partnership}, str(uuid.uuid4()))


def ledger(db_engines, partnership: str) -> list[tuple[str, int]]:
    with Session(db_engines["payments"]) as session:
        rows = session.execute(select(LedgerEntry.kind, LedgerEntry.amount_cents)
                               .where(LedgerEntry.partnership_id == partnership)
                               .order_by(LedgerEntry.id))
        return [tuple(row) for row in rows]


def with_budget(rpc_as, db_engines, budget_cents: int) -> tuple[str, Any]:
    partnership = partnership_id(db_engines["registration"], "GREENMOB")
    payments = admin(rpc_as)
    payments.set_budget(partnership, {"budget_cents": budget_cents}, idempotency_key="first")
    return partnership, payments


def test_setting_a_budget_twice_with_one_key_records_it_once(rpc_as, db_engines, services):
    partnership, payments = with_budget(rpc_as, db_engines, 100_000)
    again = payments.set_budget(partnership, {"budget_cents": 100_000}, idempotency_key="first")
    assert again["budget_cents"] == 100_000
    payments.set_budget(partnership, {"budget_cents": 150_000}, idempotency_key="second")
    assert ledger(db_engines, partnership) == [("budget_set", 100_000), ("budget_change", 50_000)]
    with pytest.raises(NotFound):
        payments.set_budget(str(uuid.uuid4()), {"budget_cents": 1})


def test_a_budget_set_against_a_stale_version_is_refused(rpc_as, db_engines, services):
    partnership, payments = with_budget(rpc_as, db_engines, 100_000)
    read = payments.get_budget(partnership)
    assert read["version"] == 1
    changed = payments.set_budget(partnership, {"budget_cents": 120_000, "version": 1})
    assert (changed["budget_cents"], changed["version"]) == (120_000, 2)
    with pytest.raises(StaleVersion) as refused:
        payments.set_budget(partnership, {"budget_cents": 90_000, "version": 1})
    assert "now at version 2" in refused.value.detail
    assert payments.get_budget(partnership)["budget_cents"] == 120_000
    # The same figure again changes nothing, so the version stays.
    assert payments.set_budget(partnership, {"budget_cents": 120_000, "version": 2})["version"] == 2
    fresh = partnership_id(db_engines["registration"], "TEXCIRC")
    with pytest.raises(StaleVersion):
        payments.set_budget(fresh, {"budget_cents": 1_000, "version": 4})
    with pytest.raises(NotFound):
        payments.get_budget(fresh)  # the refused first envelope left nothing behind
    assert payments.set_budget(fresh, {"budget_cents": 1_000, "version": 0})["version"] == 1


def test_a_signed_financial_agreement_delivered_twice_reserves_once(config, rpc_as, db_engines,
                                                                   services):
    partnership, payments = with_budget(rpc_as, db_engines, 100_000)
    event = signed(partnership, 78_000)
    with handled(services, "handle_financial_agreement_signed", 2):
        publish_event(config, "agreements", event, times=2)
    assert ledger(db_engines, partnership) == [("budget_set", 100_000), ("reserve", 78_000)]
    budget = payments.get_budget(partnership)
    assert (budget["reserved_cents"], budget["available_cents"]) == (78_000, 22_000)
    assert budget["kpis"]["reserved"] == {"exchanges": 1, "amount_cents": 78_000}


def test_two_agreements_that_together_exceed_the_budget_reserve_one(config, rpc_as, db_engines,
                                                                    services):
    partnership, payments = with_budget(rpc_as, db_engines, 100_000)
    with handled(services, "handle_financial_agreement_signed", 2):
        publish_event(config, "agreements", signed(partnership, 78_000))
        publish_event(config, "agreements", signed(partnership, 78_000))
    # The other one failed, goes back to its queue and ends parked unless the budget grows.
    assert ledger(db_engines, partnership) == [("budget_set", 100_000), ("reserve", 78_000)]
    assert payments.get_budget(partnership)["available_cents"] == 22_000


def test_a_cancelled_exchange_gives_its_reservation_back(config, rpc_as, db_engines, services):
    partnership, payments = with_budget(rpc_as, db_engines, 100_000)
    exchange_id = str(uuid.uuid4())
    with handled(services, "handle_financial_agreement_signed", 1):
        publish_event(config, "agreements", signed(partnership, 39_000, exchange_id))
    with handled(services, "handle_exchange_cancelled", 3):
        publish_event(config, "agreements", cancelled(partnership, exchange_id), times=2)
        publish_event(config, "agreements", cancelled(partnership, str(uuid.uuid4())))  # nothing reserved
    assert ledger(db_engines, partnership) == [
        ("budget_set", 100_000), ("reserve", 39_000), ("release", 39_000)]
    budget = payments.get_budget(partnership)
    assert (budget["reserved_cents"], budget["available_cents"]) == (0, 100_000)
    assert budget["kpis"]["released"] == {"exchanges": 1, "amount_cents": 39_000}


def test_a_submitted_closing_report_opens_one_claim(config, db_engines, services):
    exchange_id, visitor = str(uuid.uuid4()), str(uuid.uuid4())
    event = make_event("closing_report_submitted", {
        "exchange_id": exchange_id, "reference": "CXC-2026-000123", "status": "reported",
        "visitor_partnership_id": str(uuid.uuid4())}, visitor)
    with handled(services, "handle_closing_report_submitted", 2):
        publish_event(config, "agreements", event, times=2)
    with Session(db_engines["payments"]) as session:
        claims = session.execute(select(Claim.exchange_id, Claim.visitor_account_id, Claim.state)).all()
        assert claims == [(exchange_id, visitor, "draft")]
        assert session.scalar(select(func.count()).select_from(Claim)) == 1


# --- the claim, its payout and the payment run ---------------------------------------------------

def stored_evidence(config: dict[str, Any], exchange_id: str, data: bytes) -> str:
    from common.storage import ObjectStore

    return ObjectStore(config["STORAGE"]).put(f"evidence/{exchange_id}", data, "application/pdf").key


def outbox(db_engines, event_type: str) -> list[dict[str, Any]]:
    from services.payments.models import OutboxEvent

    with Session(db_engines["payments"]) as session:
        return [row.payload for row in session.scalars(
            select(OutboxEvent).where(OutboxEvent.event_type == event_type).order_by(OutboxEvent.id))]


def test_an_approved_claim_is_paid_once_through_a_payment_run(config, rpc_as, db_engines, services):
    from common.errors import InvalidState, NotAllowed, UnsupportedMediaType
    from tests.helpers import MINIMAL_PDF, exe_bytes

    partnership, payments = with_budget(rpc_as, db_engines, 100_000)
    exchange_id, visitor_account = str(uuid.uuid4()), str(uuid.uuid4())
    with handled(services, "handle_financial_agreement_signed", 1):
        publish_event(config, "agreements", signed(partnership, 78_000, exchange_id))
    report = make_event("closing_report_submitted", {
        "exchange_id": exchange_id, "reference": f"CXC-2026-{exchange_id[:6]}", "status": "reported",
        "visitor_partnership_id": partnership}, visitor_account)
    with handled(services, "handle_closing_report_submitted", 1):
        publish_event(config, "agreements", report)

    visitor = rpc_as("payments", visitor_account, ("participant",))
    contact = rpc_as("payments", str(uuid.uuid4()), ("partnership_contact",), partnership)
    stranger = rpc_as("payments", str(uuid.uuid4()), ("participant",))
    other_contact = rpc_as("payments", str(uuid.uuid4()), ("partnership_contact",), str(uuid.uuid4()))
    with pytest.raises(NotFound):
        stranger.get_claim(exchange_id)

    with pytest.raises(InvalidState):  # no evidence yet
        visitor.submit_claim(exchange_id)
    with pytest.raises(UnsupportedMediaType):
        visitor.add_evidence(exchange_id, {"key": stored_evidence(config, exchange_id, exe_bytes())})
    claim = visitor.add_evidence(exchange_id, {"key": stored_evidence(config, exchange_id, MINIMAL_PDF),
                                               "filename": "boarding-pass.pdf"})
    assert [e["content_type"] for e in claim["evidence"]] == ["application/pdf"]
    evidence_id = claim["evidence"][0]["id"]
    assert contact.get_evidence(exchange_id, evidence_id)["key"].startswith(f"evidence/{exchange_id}/")
    with pytest.raises(NotFound):
        stranger.get_evidence(exchange_id, evidence_id)
    spare = visitor.add_evidence(exchange_id, {"key": stored_evidence(config, exchange_id, MINIMAL_PDF)})
    claim = visitor.remove_evidence(exchange_id, spare["evidence"][1]["id"])
    assert [e["id"] for e in claim["evidence"]] == [evidence_id]
    visitor.submit_claim(exchange_id, {"version": claim["version"]})
    with pytest.raises(InvalidState):  # submitted: the evidence is the reviewer's to read now
        visitor.remove_evidence(exchange_id, evidence_id)

    with pytest.raises(NotAllowed):
        visitor.approve_claim(exchange_id)
    assert [c["exchange_id"] for c in contact.list_claims({"state": "submitted"})["items"]] == [exchange_id]
    assert visitor.list_claims()["total"] == 1 and stranger.list_claims()["total"] == 0
    with pytest.raises(NotFound):
        other_contact.approve_claim(exchange_id)
    approved = contact.approve_claim(exchange_id, {"comment": "All there."}, idempotency_key="ok-1")
    again = contact.approve_claim(exchange_id, {"comment": "All there."}, idempotency_key="ok-1")
    assert again["payout"]["id"] == approved["payout"]["id"]
    with pytest.raises(InvalidState):
        contact.approve_claim(exchange_id, {"comment": "Twice?"})
    payout = approved["payout"]
    assert (payout["amount_cents"], payout["state"], payout["overdue"]) == (78_000, "approved", False)
    assert visitor.get_payout(payout["id"])["id"] == payout["id"]
    with pytest.raises(NotFound):
        stranger.get_payout(payout["id"])

    batch = contact.create_batch({}, idempotency_key="run-1")
    assert (batch["payout_count"], batch["total_cents"]) == (1, 78_000)
    assert [item["payout_id"] for item in batch["items"]] == [payout["id"]]
    with pytest.raises(NotFound):
        other_contact.mark_batch_paid(batch["id"])
    settled = contact.mark_batch_paid(batch["id"], idempotency_key="paid-1")
    contact.mark_batch_paid(batch["id"], idempotency_key="paid-1")
    assert settled["state"] == "settled" and settled["items"][0]["outcome"] == "paid"
    assert visitor.get_payout(payout["id"])["state"] == "paid"

    assert ledger(db_engines, partnership) == [
        ("budget_set", 100_000), ("reserve", 78_000), ("pay", 78_000)]
    budget = payments.get_budget(partnership)
    assert (budget["paid_cents"], budget["reserved_cents"], budget["available_cents"]) == (78_000, 0, 22_000)
    for event_type in ("payout_approved", "payout_paid"):
        [event] = outbox(db_engines, event_type)
        assert (event["exchange_id"], event["payout_id"], event["amount_cents"]) == \
            (exchange_id, payout["id"], 78_000)
        assert not {"iban", "account_holder", "name"} & set(event)


def approved_payout(config, rpc_as, db_engines, services) -> tuple[str, Any, Any, dict[str, Any]]:
    from tests.helpers import MINIMAL_PDF

    partnership, _ = with_budget(rpc_as, db_engines, 100_000)
    exchange_id, visitor_account = str(uuid.uuid4()), str(uuid.uuid4())
    with handled(services, "handle_financial_agreement_signed", 1):
        publish_event(config, "agreements", signed(partnership, 39_000, exchange_id))
    with handled(services, "handle_closing_report_submitted", 1):
        publish_event(config, "agreements", make_event("closing_report_submitted", {
            "exchange_id": exchange_id, "reference": f"CXC-2026-{exchange_id[:6]}",
            "status": "reported", "visitor_partnership_id": partnership}, visitor_account))
    visitor = rpc_as("payments", visitor_account, ("participant",))
    contact = rpc_as("payments", str(uuid.uuid4()), ("partnership_contact",), partnership)
    visitor.add_evidence(exchange_id, {"key": stored_evidence(config, exchange_id, MINIMAL_PDF)})
    visitor.submit_claim(exchange_id)
    return partnership, visitor, contact, contact.approve_claim(exchange_id)["payout"]


def test_a_failed_payout_goes_out_again_in_a_later_run(config, rpc_as, db_engines, services):
    partnership, visitor, contact, payout = approved_payout(config, rpc_as, db_engines, services)
    first = contact.create_batch({"payout_ids": [payout["id"]]})
    failed = contact.mark_payout_failed(payout["id"], {"reason": "Account closed"},
                                        idempotency_key="fail-1")
    assert (failed["state"], failed["failure_reason"]) == ("failed", "Account closed")
    assert contact.get_batch(first["id"])["items"][0]["outcome"] == "failed"
    [event] = outbox(db_engines, "payout_failed")
    assert event["state"] == "failed" and "reason" not in event and "failure_reason" not in event

    second = contact.create_batch({})
    assert [item["payout_id"] for item in second["items"]] == [payout["id"]]
    contact.mark_batch_paid(second["id"])
    assert visitor.get_payout(payout["id"])["attempts"] == 2
    assert ledger(db_engines, partnership) == [
        ("budget_set", 100_000), ("reserve", 39_000), ("pay", 39_000)]


def test_payouts_past_their_due_date_are_listed_as_overdue(config, rpc_as, db_engines, services):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from services.payments.models import Payout

    partnership, visitor, contact, payout = approved_payout(config, rpc_as, db_engines, services)
    today = datetime.now(UTC).date()
    assert payout["due_on"] == (today + timedelta(days=10)).isoformat()
    assert contact.list_payouts({"overdue": True})["total"] == 0
    with Session(db_engines["payments"]) as session:
        session.execute(update(Payout).values(due_on=today - timedelta(days=1)))
        session.commit()
    overdue = contact.list_payouts({"overdue": True})
    assert [(p["id"], p["overdue"]) for p in overdue["items"]] == [(payout["id"], True)]
    assert visitor.list_payouts()["items"][0]["overdue"] is True
    other = rpc_as("payments", str(uuid.uuid4()), ("partnership_contact",), str(uuid.uuid4()))
    assert other.list_payouts({"overdue": True})["total"] == 0


def agreed_bank_account(config, db_engines, exchange_id: str, reference: str, partnership: str,
                        iban: str) -> None:
    """The exchange's financial agreement as agreements keeps it: the IBAN encrypted."""
    from services.agreements.bank import IbanVault
    from services.agreements.keys import local_iban_keys
    from services.agreements.models import Exchange, FinancialAgreement

    vault = IbanVault(local_iban_keys(config["AGREEMENTS"]["sealing_dir"]))
    def side(prefix: str) -> dict[str, str]:
        return {f"{prefix}_{key}": str(uuid.uuid4())
                for key in ("registration_id", "account_id", "organisation_id")}

    with Session(db_engines["agreements"]) as session:
        session.add(Exchange(
            id=exchange_id, reference=reference, status="reported", proposed_by=str(uuid.uuid4()),
            proposer_party="vo", plan={}, content_version=1,
            **side("visitor"), visitor_organisation_name="Org", visitor_country="DE",
            visitor_partnership_id=partnership, **side("host"), host_organisation_name="Org",
            host_country="PT", host_partnership_id=str(uuid.uuid4())))
        session.flush()
        session.add(FinancialAgreement(exchange_id=exchange_id, amount_cents=39_000, quote={},
                                       account_holder="Cluster Mobilität e.V.",
                                       iban_encrypted=vault.encrypt(iban), iban_masked="DE•• 3000"))
        session.commit()


def test_a_payment_run_downloads_as_a_valid_sepa_file(config, rpc_as, db_engines, services,
                                                      agreements_container):
    from common.errors import InvalidState, NotAllowed
    from services.payments.sepa import validate_pain001

    partnership, visitor, contact, payout = approved_payout(config, rpc_as, db_engines, services)
    batch = contact.create_batch({})
    with pytest.raises(InvalidState):  # the partnership's own account is not set yet
        contact.sepa_file(batch["id"])
    with pytest.raises(NotAllowed):
        contact.set_debtor_account(partnership, {"name": "GreenMob", "iban": "DE89370400440532013000"})
    admin(rpc_as).set_debtor_account(partnership, {"name": "GreenMob ESCP-4x",
                                                   "iban": "FR14 2004 1010 0505 0001 3M02 606"})
    assert contact.get_debtor_account(partnership)["iban_masked"] == "FR•• •••• 2606"
    with pytest.raises(InvalidState):  # agreements holds no bank account for the exchange
        contact.sepa_file(batch["id"])

    agreed_bank_account(config, db_engines, payout["exchange_id"], payout["exchange_reference"],
                        partnership, "DE89370400440532013000")
    sepa = contact.sepa_file(batch["id"])
    assert (sepa["transaction_count"], sepa["control_sum_cents"]) == (1, batch["total_cents"])
    xml = sepa["xml"].encode()
    validate_pain001(xml, sepa["schema"])
    assert b"<CtrlSum>390.00</CtrlSum>" in xml and b"DE89370400440532013000" in xml
    assert payout["exchange_reference"].encode() in xml
    again = contact.sepa_file(batch["id"])  # the same MsgId: a bank refuses it a second time
    assert again["message_id"] == sepa["message_id"]
    assert f"<MsgId>{sepa['message_id']}</MsgId>" in again["xml"]
    for refused in (visitor, rpc_as("payments", str(uuid.uuid4()), ("partnership_contact",),
                                    str(uuid.uuid4()))):
        with pytest.raises(NotFound):
            refused.sepa_file(batch["id"])


def test_agreements_hands_bank_accounts_encrypted_and_only_to_the_visitors_partnership(
        config, rpc_as, db_engines, agreements_container):
    partnership, exchange_id = str(uuid.uuid4()), str(uuid.uuid4())
    agreed_bank_account(config, db_engines, exchange_id, "CXC-2026-000777", partnership,
                        "DE89370400440532013000")
    [record] = rpc_as("agreements", str(uuid.uuid4()), ("partnership_contact",),
                      partnership).get_payout_accounts([exchange_id, str(uuid.uuid4())])
    assert record["exchange_id"] == exchange_id and record["account_holder"]
    assert "DE89" not in str(record)
    for stranger in (rpc_as("agreements", str(uuid.uuid4()), ("partnership_contact",), str(uuid.uuid4())),
                     rpc_as("agreements", str(uuid.uuid4()), ("participant",))):
        assert stranger.get_payout_accounts([exchange_id]) == []


def test_a_reservation_arriving_after_the_cancellation_reserves_nothing(config, rpc_as, db_engines,
                                                                         services):
    """The reservation failed (budget too small), the exchange was cancelled meanwhile, then
    the parked reservation is replayed: the cancelled exchange must not hold money."""
    partnership, payments = with_budget(rpc_as, db_engines, 100_000)
    exchange_id = str(uuid.uuid4())
    with handled(services, "handle_exchange_cancelled", 1):
        publish_event(config, "agreements", cancelled(partnership, exchange_id))
    with handled(services, "handle_financial_agreement_signed", 1):
        publish_event(config, "agreements", signed(partnership, 39_000, exchange_id))
    assert ledger(db_engines, partnership) == [("budget_set", 100_000)]
    assert payments.get_budget(partnership)["available_cents"] == 100_000
