"""The statistics' GROUP BY queries on SQLite, the local default (the e2e tests run them on
PostgreSQL): sectors expanded from the JSON preferences, months from the start dates."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from common.db import make_engine
from services.agreements import repository as agreements
from services.agreements import statistics
from services.agreements.models import Base as AgreementsBase
from services.agreements.models import Exchange, FinancialAgreement
from services.registration import repository as registration
from services.registration.models import Account, Organisation, Partnership, Registration
from services.registration.models import Base as RegistrationBase

AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_registrations_count_by_status_country_sector_and_partnership(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'registration.db'}")
    RegistrationBase.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        for code in ("P", "Q"):
            session.add(Partnership(id=code, code=code, name=code, sectors=[], countries=[]))
        for n, (status, country, partnership, sectors) in enumerate([
                ("accepted", "PT", "P", ["digital", "textiles"]), ("submitted", "DE", "P", ["digital"]),
                ("draft", "PT", "P", ["tourism"]), ("accepted", "PT", "Q", [])]):
            session.add(Account(id=f"a{n}", email=f"{n}@x.eu", full_name="x", password_hash="x", roles=[]))
            session.add(Organisation(id=f"o{n}", account_id=f"a{n}", name="x", type="sme", country=country))
            session.flush()
            session.add(Registration(id=f"r{n}", reference=f"R{n}", status=status, account_id=f"a{n}",
                                     organisation_id=f"o{n}", partnership_id=partnership, roles=[],
                                     representative={}, preferences={"sectors": sectors}))
    with Session(engine) as session:
        assert sorted(registration.registrations_by_status(session, "P")) == [
            ("accepted", 1), ("draft", 1), ("submitted", 1)]
        assert sorted(registration.registrations_by(session, None, "country")) == [("DE", 1), ("PT", 2)]
        assert sorted(registration.registrations_by(session, None, "partnership_id")) == [
            ("P", 2), ("Q", 1)]
        # drafts are not counted; a registration counts once in each of its sectors
        assert sorted(registration.registrations_by_sector(session, "P")) == [
            ("digital", 2), ("textiles", 1)]
        assert registration.registrations_by_sector(session, "nobody") == []


def test_exchanges_count_by_month_and_their_lump_sums_by_host_country(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'agreements.db'}")
    AgreementsBase.metadata.create_all(engine)
    rows = [("ready", "2026-03-02", "PT", "P", 78_000), ("paid", "2026-03-16", "PT", "P", 39_000),
            ("draft", None, "DE", "P", None), ("ready", "2026-04-06", "PT", "Q", 110_000)]
    with Session(engine) as session, session.begin():
        for n, (status, start, host_country, vop, amount) in enumerate(rows):
            session.add(Exchange(
                id=f"x{n}", reference=f"CXC-2026-{n:06d}", status=status, proposed_by="a",
                proposer_party="vo",
                visitor_registration_id="r", visitor_account_id="a", visitor_organisation_id=f"o{n}",
                visitor_organisation_name="x", visitor_country="AT", visitor_partnership_id=vop,
                host_registration_id="h", host_account_id="b", host_organisation_id="h",
                host_organisation_name="y", host_country=host_country, host_partnership_id="H", plan={},
                start_date=start, created_at=AT, updated_at=AT))
            session.flush()
            if amount:
                session.add(FinancialAgreement(exchange_id=f"x{n}", amount_cents=amount, quote={}))
    with Session(engine) as session:
        months = statistics.by_month(agreements.exchanges_by_month_and_state(session, "P"))
        assert months == [{"month": "2026-03", "count": 2, "states": {"ready": 1, "paid": 1}},
                          {"month": "unknown", "count": 1, "states": {"draft": 1}}]
        assert sorted(agreements.exchange_counts(session, "H", "visitor_partnership_id")) == [
            ("P", 3), ("Q", 1)]  # the host's partnership sees every exchange it hosts
        assert statistics.lump_sums(agreements.lump_sums_by_host_country(session, None)) == [
            {"host_country": "PT", "committed_cents": 188_000, "paid_cents": 39_000, "exchanges": 3}]
        assert statistics.lump_sums(agreements.lump_sums_by_host_country(session, "P")) == [
            {"host_country": "PT", "committed_cents": 78_000, "paid_cents": 39_000, "exchanges": 2}]
