"""Reading and writing agreements' tables; turns rows into plain dicts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from common.db import dialect_insert, is_postgres
from common.errors import NotFound
from services.agreements import lifecycle as lc
from services.agreements.domain import (
    COMMITTED_STATES,
    HOSTING_STATES,
    PAID_STATES,
    VISIT_COUNTING_STATES,
    format_reference,
)
from services.agreements.models import (
    ClosingReport,
    Document,
    Exchange,
    FinancialAgreement,
    ReferenceCounter,
    Signature,
    TimelineEntry,
    Validation,
)

SIGNATORIES = ("vo", "ho", "vop", "hop")


def next_reference(session: Session, year: int) -> str:
    """The next human reference of `year`: an upsert that increments and returns the counter,
    holding its row lock until the transaction ends, so two proposals never share a number."""
    table = ReferenceCounter.__table__
    statement = dialect_insert(session)(table).values(year=year, last_number=1)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.year], set_={"last_number": table.c.last_number + 1},
    ).returning(table.c.last_number)
    return format_reference(year, session.execute(statement).scalar_one())


def count_visits(session: Session, visitor_organisation_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Exchange).where(
        Exchange.visitor_organisation_id == visitor_organisation_id,
        Exchange.status.in_(VISIT_COUNTING_STATES))) or 0


def count_hosting(session: Session, host_organisation_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Exchange).where(
        Exchange.host_organisation_id == host_organisation_id,
        Exchange.status.in_(HOSTING_STATES))) or 0


def load_exchange(session: Session, exchange_id: str, for_update: bool = False) -> Exchange:
    query = select(Exchange).where(Exchange.id == exchange_id)
    if for_update and is_postgres(session):
        query = query.with_for_update()
    exchange = session.scalar(query)
    if exchange is None:
        raise NotFound("No such exchange.")
    return exchange


def add_timeline(session: Session, exchange: Exchange, account_id: str | None, party: str,
                 action: str, from_state: str | None, comment: str | None = None) -> None:
    session.add(TimelineEntry(exchange_id=exchange.id, account_id=account_id, party=party,
                              action=action, from_state=from_state, to_state=exchange.status,
                              comment=comment))


def timeline(conn: Connection | Session, exchange_id: str) -> list[dict[str, Any]]:
    table = TimelineEntry.__table__
    rows = conn.execute(select(table).where(table.c.exchange_id == exchange_id)
                        .order_by(table.c.at, table.c.id))
    return [dict(row._mapping) for row in rows]


def validations(session: Session, exchange: Exchange) -> list[Validation]:
    return list(session.scalars(select(Validation).where(
        Validation.exchange_id == exchange.id,
        Validation.content_version == exchange.content_version).order_by(Validation.decided_at)))


def record_validation(session: Session, exchange: Exchange, party: str, decision: str,
                      comment: str | None, account_id: str) -> None:
    existing = session.scalar(select(Validation).where(
        Validation.exchange_id == exchange.id, Validation.content_version == exchange.content_version,
        Validation.party == party))
    if existing is None:
        session.add(Validation(exchange_id=exchange.id, content_version=exchange.content_version,
                               party=party, decision=decision, comment=comment,
                               account_id=account_id))
    else:
        existing.decision, existing.comment, existing.account_id = decision, comment, account_id
    session.flush()


def document(session: Session, exchange: Exchange) -> Document | None:
    return session.scalar(select(Document).where(Document.exchange_id == exchange.id,
                                                 Document.content_version == exchange.content_version))


def signatures(session: Session, exchange: Exchange) -> list[Signature]:
    return list(session.scalars(select(Signature).where(
        Signature.exchange_id == exchange.id,
        Signature.content_version == exchange.content_version).order_by(Signature.signed_at)))


def financial_agreement(session: Session, exchange_id: str) -> FinancialAgreement | None:
    return session.get(FinancialAgreement, exchange_id)


def closing_reports(session: Session, exchange_id: str) -> list[ClosingReport]:
    return list(session.scalars(select(ClosingReport).where(
        ClosingReport.exchange_id == exchange_id).order_by(ClosingReport.submitted_at)))


def list_exchanges(session: Session, filters: dict[str, Any], account_id: str | None,
                   partnership_id: str | None, everything: bool) -> tuple[list[Exchange], int]:
    conditions = []
    if not everything:
        scope = []
        if account_id is not None:
            scope += [Exchange.visitor_account_id == account_id, Exchange.host_account_id == account_id]
        if partnership_id is not None:
            scope += [Exchange.visitor_partnership_id == partnership_id,
                      Exchange.host_partnership_id == partnership_id]
        if not scope:
            return [], 0
        conditions.append(or_(*scope))
    if filters.get("status"):
        conditions.append(Exchange.status == filters["status"])
    role = filters.get("role")
    if role == "vo" and account_id is not None:
        conditions.append(Exchange.visitor_account_id == account_id)
    elif role == "ho" and account_id is not None:
        conditions.append(Exchange.host_account_id == account_id)
    elif role == "vop" and partnership_id is not None:
        conditions.append(Exchange.visitor_partnership_id == partnership_id)
    elif role == "hop" and partnership_id is not None:
        conditions.append(Exchange.host_partnership_id == partnership_id)
    total = session.scalar(select(func.count()).select_from(Exchange).where(*conditions)) or 0
    rows = session.scalars(select(Exchange).where(*conditions)
                           .order_by(Exchange.created_at.desc(), Exchange.id)
                           .offset((filters["page"] - 1) * filters["per_page"])
                           .limit(filters["per_page"])).all()
    return list(rows), total


def due_to_start(session: Session, today: str, limit: int = 200) -> list[Exchange]:
    return _due(session, limit, Exchange.status == lc.READY, Exchange.start_date <= today)


def due_to_complete(session: Session, today: str, limit: int = 200) -> list[Exchange]:
    return _due(session, limit, Exchange.status == lc.IN_PROGRESS, Exchange.end_date < today)


def _due(session: Session, limit: int, *conditions: Any) -> list[Exchange]:
    query = select(Exchange).where(*conditions).order_by(Exchange.start_date).limit(limit)
    if is_postgres(session):
        # Several instances run the timer; each exchange moves once, by whoever locks it.
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def payout_accounts(session: Session, exchange_ids: list[str]) -> list[tuple[Exchange, FinancialAgreement]]:
    """The exchanges among `exchange_ids` whose financial agreement has a bank account."""
    return list(session.execute(
        select(Exchange, FinancialAgreement)
        .join(FinancialAgreement, FinancialAgreement.exchange_id == Exchange.id)
        .where(Exchange.id.in_(exchange_ids), FinancialAgreement.iban_encrypted.is_not(None))))


def parties(conn: Connection, exchange_ids: list[str]) -> dict[str, dict[str, Any]]:
    table = Exchange.__table__
    columns = ("visitor_registration_id", "host_registration_id", "visitor_partnership_id",
               "host_partnership_id")
    rows = conn.execute(select(table.c.id, *(table.c[name] for name in columns))
                        .where(table.c.id.in_(exchange_ids))) if exchange_ids else []
    return {row.id: {name: getattr(row, name) for name in columns} for row in rows}


# --- statistics -----------------------------------------------------------------------------

def _touching(partnership_id: str | None) -> list[Any]:
    """Exchanges a partnership takes part in, as visitor's or host's (all: None)."""
    if partnership_id is None:
        return []
    return [or_(Exchange.visitor_partnership_id == partnership_id,
                Exchange.host_partnership_id == partnership_id)]


def exchange_counts(session: Session, partnership_id: str | None, by: str) -> list[Any]:
    """(value, count) of one column (`status`, `host_country`, `visitor_partnership_id`)
    over the exchanges in scope: one GROUP BY."""
    column = {"status": Exchange.status, "host_country": Exchange.host_country,
              "visitor_partnership_id": Exchange.visitor_partnership_id}[by]
    return list(session.execute(select(column, func.count()).select_from(Exchange)
                                .where(*_touching(partnership_id)).group_by(column)))


def start_month() -> Any:
    """`YYYY-MM` of the start date (stored as an ISO string), the same on every database."""
    return func.substr(Exchange.start_date, 1, 7)


def exchanges_by_month_and_state(session: Session, partnership_id: str | None) -> list[Any]:
    month = start_month().label("month")
    return list(session.execute(
        select(month, Exchange.status, func.count()).where(*_touching(partnership_id))
        .group_by(month, Exchange.status).order_by(month)))


def lump_sums_by_host_country(session: Session, partnership_id: str | None) -> list[Any]:
    """(host country, committed cents, paid cents, exchanges) of signed financial agreements,
    the visitor's partnership's money (so only its own exchanges for a partnership)."""
    amount = FinancialAgreement.amount_cents

    def total(states: tuple[str, ...]) -> Any:
        return func.coalesce(func.sum(case((Exchange.status.in_(states), amount), else_=0)), 0)

    query = (select(Exchange.host_country, total(COMMITTED_STATES).label("committed_cents"),
                    total(PAID_STATES).label("paid_cents"), func.count().label("exchanges"))
             .join(FinancialAgreement, FinancialAgreement.exchange_id == Exchange.id)
             .where(Exchange.status.in_(COMMITTED_STATES + PAID_STATES))
             .group_by(Exchange.host_country).order_by(Exchange.host_country))
    if partnership_id is not None:
        query = query.where(Exchange.visitor_partnership_id == partnership_id)
    return list(session.execute(query))
