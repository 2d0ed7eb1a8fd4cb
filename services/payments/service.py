"""Payments service: the lump-sum table and quotes, partnership budgets and their ledger,
payment claims.

Who may do what (everyone else gets 404 for what they may not see):
- quotes: `quote` is public; `quote_for_exchange` needs a caller who may see the visitor's
  registration (registration decides, through `get_public_profiles` with the caller's token);
- a budget: administrators, and the contact points of its partnership; `check_budget` also
  answers a participant whose accepted registration belongs to the partnership (agreements
  asks with the visitor's token when the visitor signs last), without the amounts;
- the lump-sum table: read by anyone, changed by administrators.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from eventlet import tpool
from nameko.dependency_providers import Config
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from common.auth import Auth, Caller
from common.db import Database, new_id, utcnow
from common.entrypoints import rpc
from common.errors import Conflict, InvalidState, NotAllowed, NotFound, StaleVersion
from common.events import handles, make_event
from common.idempotency import IdempotencyKeys
from common.logs import RequestContext
from common.outbox import OutboxRelay, first_delivery, record_event
from common.rpc import Rpc
from common.schemas import StatisticsQuerySchema, load, page_of
from common.statistics import statistics_scope
from common.storage import ObjectStoreProvider
from services.payments import budget_history, repository
from services.payments import quote as quotes
from services.payments.accounts import AccountKeysProvider, mask_iban
from services.payments.distance import DEFAULT_MIN_POPULATION
from services.payments.evidence import (
    APPROVE,
    EVIDENCE_MAX_BYTES,
    PAYMENT_DUE_DAYS,
    REQUEST_CHANGES,
    SUBMIT,
    check_evidence,
    ensure_evidence_editable,
    ensure_submittable,
    is_overdue,
    next_claim_state,
)
from services.payments.exceptions import InsufficientBudget, NoBudget, country_name
from services.payments.ledger import Funds
from services.payments.lump_sums import DEFAULT_THRESHOLD_CENTS
from services.payments.models import IdempotencyKey, InboxEvent, OutboxEvent
from services.payments.money import ensure_cents, euros
from services.payments.payouts import PAID
from services.payments.places import PlacesProvider, location_of
from services.payments.schemas import (
    AddEvidenceSchema,
    ApproveClaimSchema,
    BatchListQuerySchema,
    BatchSchema,
    BudgetCheckSchema,
    BudgetHistoryQuerySchema,
    BudgetHistorySchema,
    BudgetListQuerySchema,
    BudgetSchema,
    ClaimListQuerySchema,
    ClaimSchema,
    CreateBatchSchema,
    DebtorAccountSchema,
    ExchangeQuoteRequestSchema,
    FailPayoutSchema,
    LumpSumSetSchema,
    LumpSumTableSchema,
    PaymentStatisticsSchema,
    PayoutListQuerySchema,
    PayoutSchema,
    QuoteQuerySchema,
    QuoteSchema,
    RateChangeQuerySchema,
    RateChangeSchema,
    RequestChangesSchema,
    ReserveForExchangeSchema,
    SepaFileSchema,
    SetBudgetSchema,
    SetDebtorAccountSchema,
    SetLumpSumSchema,
    SubmitClaimSchema,
)
from services.payments.sepa import DEFAULT_SCHEMA, CreditTransfer, build_credit_transfer_file, remittance_for
from services.payments.sepa import DebtorAccount as SepaDebtor
from services.payments.sepa import validated_debtor as validate_debtor

log = logging.getLogger(__name__)

# An inbox row (exchange id, this marker) records an exchange cancelled before anything was
# reserved for it; like every inbox row it is kept INBOX_RETENTION_DAYS.
CANCELLED_BEFORE_RESERVATION = "exchange_cancelled_before_reservation"

_quote_query = QuoteQuerySchema()
_exchange_quote = ExchangeQuoteRequestSchema()
_quote = QuoteSchema()
_check = BudgetCheckSchema()
_reserve = ReserveForExchangeSchema()
_set_budget = SetBudgetSchema()
_budget = BudgetSchema()
_budget_list = BudgetListQuerySchema()
_table = LumpSumTableSchema()
_rate_set = LumpSumSetSchema()
_set_rate = SetLumpSumSchema()
_change = RateChangeSchema()
_changes_query = RateChangeQuerySchema()
_claim = ClaimSchema()
_claim_list = ClaimListQuerySchema()
_add_evidence = AddEvidenceSchema()
_submit = SubmitClaimSchema()
_approve = ApproveClaimSchema()
_changes = RequestChangesSchema()
_payout = PayoutSchema()
_payout_list = PayoutListQuerySchema()
_create_batch = CreateBatchSchema()
_batch = BatchSchema()
_batch_list = BatchListQuerySchema()
_fail = FailPayoutSchema()
_set_debtor = SetDebtorAccountSchema()
_debtor = DebtorAccountSchema()
_sepa = SepaFileSchema()
_history_query = BudgetHistoryQuerySchema()
_history = BudgetHistorySchema()
_statistics_query = StatisticsQuerySchema()
_payment_statistics = PaymentStatisticsSchema()

DEFAULTS = {
    "threshold_cents": DEFAULT_THRESHOLD_CENTS,
    "short_stay_days": quotes.DEFAULT_SHORT_STAY_DAYS,
    "min_distance_km": quotes.DEFAULT_MIN_DISTANCE_KM,
    "due_days": PAYMENT_DUE_DAYS,
    "evidence_max_bytes": EVIDENCE_MAX_BYTES,
    "gazetteer_min_population": DEFAULT_MIN_POPULATION,
    "sepa_schema": DEFAULT_SCHEMA,
}


class PaymentsService:
    name = "payments"

    config = Config()
    db = Database()
    relay = OutboxRelay(OutboxEvent, inbox=InboxEvent)
    auth = Auth()
    rpc_client = Rpc()
    idempotency = IdempotencyKeys(IdempotencyKey)
    places = PlacesProvider()
    store = ObjectStoreProvider()
    account_keys = AccountKeysProvider()
    request_context = RequestContext()

    @rpc
    def health(self) -> dict[str, Any]:
        self.db.reader.execute(text("SELECT 1"))
        return {"status": "ok"}

    # --- quotes ---------------------------------------------------------------------------

    @rpc
    def quote(self, query: dict[str, Any]) -> dict[str, Any]:
        """The lump sum for a host country, working days, mode and distance (public)."""
        data = load(_quote_query, query or {})
        return self._quote(data["host_country"], data["working_days"], data["mode"],
                           data["distance_km"], data["on_date"])

    @rpc
    def quote_for_exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        """The lump sum of an exchange, the distance taken from the two organisations'
        registrations as the caller may see them."""
        caller = self.auth.caller
        data = load(_exchange_quote, request or {})
        visitor_id, host_id = data["visitor_registration_id"], data["host_registration_id"]
        found = self.rpc_client.call("registration", "get_public_profiles", [visitor_id, host_id],
                                     auth_token=caller.token)
        profiles = {profile["registration_id"]: profile for profile in found}
        if visitor_id not in profiles:
            raise NotFound("No such registration.", {"visitor_registration_id": ["Unknown."]})
        # A host the caller no longer sees (withdrawn since) leaves the distance unknown:
        # the quote says so rather than refusing the visitor its financial agreement.
        distance = self.places.distance_km(location_of(profiles[visitor_id]),
                                           location_of(profiles.get(host_id)))
        return self._quote(data["host_country"], data["working_days"], data["mode"] or quotes.PHYSICAL,
                           distance, data["on_date"])

    # --- budgets --------------------------------------------------------------------------

    @rpc
    def reserve_for_exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        """The lump sum reserved when the financial agreement gets its last signature
        (agreements asks, in that signature's transaction): of two agreements racing for the
        last of a budget, one is refused before it is signed. Once per exchange: its
        `financial_agreement_signed` event then finds the reservation made."""
        caller = self.auth.caller
        data = load(_reserve, request or {})
        partnership_id, exchange_id = data["partnership_id"], data["exchange_id"]
        sees_amounts = _may_see_budget(caller, partnership_id)
        if not sees_amounts and not self._member_of(caller, partnership_id):
            raise NotFound("No such budget.")
        amount = ensure_cents(data["amount_cents"], "amount_cents")
        if amount > 0:
            session = self.db.session
            try:
                repository.reserve(session, partnership_id, exchange_id, amount,
                                   reservation_cause(exchange_id), utcnow())
            except (InsufficientBudget, NoBudget) as exc:
                if sees_amounts:
                    raise
                raise Conflict(f"The partnership's budget does not cover this lump sum "
                               f"({euros(amount)}); its contact point can ask for more.") from exc
            session.commit()
        return {"exchange_id": exchange_id, "reserved_cents": amount}

    @rpc
    def check_budget(self, partnership_id: str, amount_cents: int) -> dict[str, Any]:
        """Whether `amount_cents` fits the partnership's available budget now (asked before
        the financial agreement's last signature; the reservation itself follows its event)."""
        caller = self.auth.caller
        sees_amounts = _may_see_budget(caller, partnership_id)
        if not sees_amounts and not self._member_of(caller, partnership_id):
            raise NotFound("No such budget.")
        amount = ensure_cents(amount_cents, "amount_cents")
        balance = repository.balance(self.db.reader, partnership_id)
        if balance is None:
            detail = NoBudget.for_partnership(partnership_id).detail
            return _check.dump({"fits": False, "available_cents": 0 if sees_amounts else None,
                                "detail": detail})
        fits = amount <= balance.available_cents
        detail = None
        if not fits:
            detail = (InsufficientBudget.for_amounts(partnership_id, balance.available_cents, amount).detail
                      if sees_amounts else
                      f"The partnership's budget does not cover this lump sum ({euros(amount)}); "
                      "its contact point can ask for more.")
        return _check.dump({"fits": fits,
                            "available_cents": balance.available_cents if sees_amounts else None,
                            "detail": detail})

    @rpc
    def set_budget(self, partnership_id: str, payload: dict[str, Any],
                   idempotency_key: str | None = None) -> dict[str, Any]:
        """Sets the partnership's envelope (administrators); never below what is committed."""
        caller = self.auth.caller
        if not caller.is_admin:
            if _may_see_budget(caller, partnership_id):
                raise NotAllowed("Only an administrator sets a partnership's budget.")
            raise NotFound("No such budget.")
        data = load(_set_budget, payload or {})
        # Unknown ids would make envelopes nobody can ever use (registration answers 404).
        self.rpc_client.call("registration", "get_partnership", partnership_id,
                             auth_token=caller.token)
        session = self.db.session

        def effect() -> dict[str, Any]:
            repository.set_budget(session, partnership_id, data["budget_cents"], new_id(), utcnow(),
                                  data["version"])
            return self._budget_view(session, partnership_id)

        return self.idempotency.run(session, idempotency_key, caller.account_id, "set_budget",
                                    [partnership_id, payload], effect)

    @rpc
    def get_budget(self, partnership_id: str) -> dict[str, Any]:
        if not _may_see_budget(self.auth.caller, partnership_id):
            raise NotFound("No such budget.")
        return self._budget_view(self.db.reader, partnership_id)

    @rpc
    def list_budgets(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """Every envelope for administrators; its own for a partnership's contact point."""
        caller = self.auth.caller
        filters = load(_budget_list, query or {})
        if caller.is_admin:
            only = None
        elif caller.has("partnership_contact") and caller.partnership_id:
            only = caller.partnership_id
        else:
            raise NotAllowed("Only administrators and contact points see budgets.")
        reader = self.db.reader
        rows, total = repository.list_budgets(reader, only, filters["page"], filters["per_page"])
        items = [self._budget_view(reader, row.partnership_id, row) for row in rows]
        return page_of(items, total, filters["page"], filters["per_page"])

    # --- statistics -----------------------------------------------------------------------

    @rpc
    def budget_history(self, partnership_id: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """Budget, reserved, paid and available over time, from the ledger's daily sums
        (administrators, the partnership's contact points; another partnership's is a 404)."""
        caller = self.auth.caller
        statistics_scope(caller, None)  # any other role: 403
        if not _may_see_budget(caller, partnership_id):
            raise NotFound("No such budget.")
        data = load(_history_query, query or {})
        reader = self.db.reader
        until = data["to"] or _today()
        since = data["from_"]
        if since is None:
            first = repository.first_ledger_day(reader, partnership_id)
            since = first.astimezone(UTC).date() if first else until - timedelta(days=365)
            since = max(min(since, until), until - timedelta(days=3660))
        interval = data["interval"] or budget_history.default_interval(since, until)
        start = datetime.combine(since, time.min, UTC)
        end = datetime.combine(until + timedelta(days=1), time.min, UTC)
        opening = repository.ledger_opening(reader, partnership_id, start)
        movements = repository.ledger_daily_movements(reader, partnership_id, start, end)
        points = budget_history.series(opening, movements, since, until, interval)
        return _history.dump({"partnership_id": partnership_id, "interval": interval,
                              "from_": since, "to": until,
                              "points": [point.as_dict() for point in points]})

    @rpc
    def payment_statistics(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """Budget, committed (reserved), paid and available per partnership, with the
        exchanges behind them; the programme's totals (administrators) or one partnership's."""
        data = load(_statistics_query, query or {})
        only = statistics_scope(self.auth.caller, data["partnership_id"])
        rows = repository.budget_totals(self.db.reader, only)
        items = [_money_row(row) for row in rows]
        totals = {key: sum(item[key] for item in items) for key in _MONEY_KEYS}
        return _payment_statistics.dump({"partnership_id": only, "totals": totals,
                                         "by_partnership": items})

    # --- the lump-sum table ---------------------------------------------------------------

    @rpc
    def list_lump_sums(self) -> dict[str, Any]:
        """The table as it stands, every figure with its period (public)."""
        table = repository.load_table(self.db.reader, self._settings["threshold_cents"])
        rates = sorted(table.rates, key=lambda rate: (rate.country, rate.valid_from))
        return _table.dump({"threshold_cents": table.threshold_cents,
                            "rates": [_rate_view(rate) for rate in rates]})

    @rpc
    def set_lump_sum(self, payload: dict[str, Any],
                     idempotency_key: str | None = None) -> dict[str, Any]:
        """A new figure for a host country from `valid_from` on (administrators); the change is
        recorded with who, when, old → new."""
        caller = self.auth.caller
        if not caller.is_admin:
            raise NotAllowed("Only an administrator changes the lump-sum table.")
        data = load(_set_rate, payload or {})
        session = self.db.session
        valid_from = data["valid_from"] or _today()

        def effect() -> dict[str, Any]:
            repository.lock_rates(session, data["country"])
            table = repository.load_table(session, self._settings["threshold_cents"])
            table, change = table.with_rate(data["country"], data["amount_cents"], valid_from,
                                            caller.account_id, utcnow(), data["reason"])
            repository.save_rate_change(session, table, change)
            try:
                session.flush()
            except IntegrityError as exc:  # a concurrent first figure for the same country
                raise Conflict("The table changed meanwhile; try again.") from exc
            rate = table.rate_on(data["country"], valid_from)
            # Dumped: the idempotency record keeps it as JSON, dates as ISO strings.
            return _rate_set.dump({"rate": _rate_view(rate), "change": change})

        return self.idempotency.run(session, idempotency_key, caller.account_id, "set_lump_sum",
                                    payload, effect)

    @rpc
    def list_lump_sum_changes(self, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The audit trail of the table (administrators)."""
        self.auth.caller.require("admin")
        data = load(_changes_query, query or {})
        return [_change.dump(change) for change in repository.rate_changes(self.db.reader, data["country"])]

    # --- the payment claim and its evidence -----------------------------------------------

    @rpc
    def get_claim(self, exchange_id: str) -> dict[str, Any]:
        session = self.db.session
        claim = repository.claim_for(session, exchange_id)
        _ensure_claim_visible(self.auth.caller, claim)
        return self._claim_view(session, claim)

    @rpc
    def list_claims(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """A visitor's own claims, a contact point's partnership's, every claim for admins."""
        filters = load(_claim_list, query or {})
        account, partnership = _scope(self.auth.caller)
        session = self.db.session
        rows, total = repository.list_claims(session, account_id=account, partnership_id=partnership,
                                             state=filters["state"], page=filters["page"],
                                             per_page=filters["per_page"])
        items = [self._claim_view(session, row) for row in rows]
        return page_of(items, total, filters["page"], filters["per_page"])

    @rpc
    def add_evidence(self, exchange_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Attaches a file the gateway stored under `evidence/<exchange_id>/…` (the visitor,
        while the claim is theirs to edit). The content is sniffed again here."""
        caller = self.auth.caller
        data = load(_add_evidence, payload or {})
        session = self.db.session
        claim = repository.claim_for(session, exchange_id, for_update=True)
        _ensure_visitor(caller, claim)
        ensure_evidence_editable(claim.state)
        if not data["key"].startswith(f"evidence/{exchange_id}/"):
            raise NotAllowed("That document was not uploaded for this exchange's claim.")
        content = self.store.get(data["key"])
        content_type = check_evidence(content, self._settings["evidence_max_bytes"])
        repository.add_evidence(session, claim.id, key=data["key"],
                                sha256=hashlib.sha256(content).hexdigest(), size=len(content),
                                content_type=content_type, filename=data["filename"],
                                uploaded_by=caller.account_id, at=utcnow())
        claim.updated_at = utcnow()
        self._flush()
        view = self._claim_view(session, claim)
        session.commit()
        return view

    @rpc
    def get_evidence(self, exchange_id: str, evidence_id: str) -> dict[str, Any]:
        """Where the gateway finds an evidence file to stream (the claim's viewers only)."""
        session = self.db.session
        claim = repository.claim_for(session, exchange_id)
        _ensure_claim_visible(self.auth.caller, claim)
        evidence = next((e for e in repository.evidence_of(session, claim.id) if e.id == evidence_id), None)
        if evidence is None:
            raise NotFound("No such evidence.")
        return {"key": evidence.key, "sha256": evidence.sha256, "size": evidence.size,
                "content_type": evidence.content_type, "filename": evidence.filename}

    @rpc
    def remove_evidence(self, exchange_id: str, evidence_id: str) -> dict[str, Any]:
        """The visitor takes a file back while the claim is theirs to edit (the stored object
        stays: it may be what a reviewer already read)."""
        caller = self.auth.caller
        session = self.db.session
        claim = repository.claim_for(session, exchange_id, for_update=True)
        _ensure_visitor(caller, claim)
        ensure_evidence_editable(claim.state)
        if not repository.remove_evidence(session, claim.id, evidence_id):
            raise NotFound("No such evidence.")
        claim.updated_at = utcnow()
        self._flush()
        view = self._claim_view(session, claim)
        session.commit()
        return view

    @rpc
    def submit_claim(self, exchange_id: str, payload: dict[str, Any] | None = None,
                     idempotency_key: str | None = None) -> dict[str, Any]:
        """The visitor hands the claim, with at least one piece of evidence, to the contact point."""
        caller = self.auth.caller
        data = load(_submit, payload or {})
        session = self.db.session

        def effect() -> dict[str, Any]:
            claim = repository.claim_for(session, exchange_id, for_update=True)
            _ensure_visitor(caller, claim)
            _check_version(claim.version, data["version"])
            ensure_submittable(claim.state, len(repository.evidence_of(session, claim.id)))
            claim.state = next_claim_state(claim.state, SUBMIT)
            claim.submitted_at = claim.updated_at = utcnow()
            self._flush()
            return self._claim_view(session, claim)

        return self.idempotency.run(session, idempotency_key, caller.account_id, "submit_claim",
                                    [exchange_id, payload], effect)

    @rpc
    def approve_claim(self, exchange_id: str, payload: dict[str, Any] | None = None,
                      idempotency_key: str | None = None) -> dict[str, Any]:
        """The contact point of the visitor's partnership (or an administrator) approves: exactly
        one payout for the exchange, due within the configured days, and `payout_approved`."""
        caller = self.auth.caller
        data = load(_approve, payload or {})
        session = self.db.session

        def effect() -> dict[str, Any]:
            claim = repository.claim_for(session, exchange_id, for_update=True)
            _ensure_reviewer(caller, claim)
            _check_version(claim.version, data["version"])
            state = next_claim_state(claim.state, APPROVE)
            funds, amount = repository.reserved_amount(session, exchange_id)
            if funds != Funds.RESERVED:
                raise InvalidState(f"There is no reserved lump sum to pay for this exchange ({funds.value}).",
                                   {"funds": funds.value})
            now = utcnow()
            payout_id, created = repository.create_payout(
                session, claim_id=claim.id, exchange_id=exchange_id,
                exchange_reference=claim.exchange_reference, partnership_id=claim.partnership_id,
                visitor_account_id=claim.visitor_account_id, amount_cents=amount,
                approved_by=caller.account_id, approved_at=now, due_days=self._settings["due_days"])
            claim.state, claim.reviewed_by, claim.reviewed_at = state, caller.account_id, now
            claim.review_comment, claim.updated_at = data["comment"], now
            if created:
                self._emit("payout_approved", repository.get_payout(session, payout_id), caller.account_id)
            self._flush()
            return self._claim_view(session, claim)

        return self.idempotency.run(session, idempotency_key, caller.account_id, "approve_claim",
                                    [exchange_id, payload], effect)

    @rpc
    def request_claim_changes(self, exchange_id: str, payload: dict[str, Any],
                              idempotency_key: str | None = None) -> dict[str, Any]:
        """Back to the visitor with a comment saying what is missing."""
        caller = self.auth.caller
        data = load(_changes, payload or {})
        session = self.db.session

        def effect() -> dict[str, Any]:
            claim = repository.claim_for(session, exchange_id, for_update=True)
            _ensure_reviewer(caller, claim)
            _check_version(claim.version, data["version"])
            now = utcnow()
            claim.state = next_claim_state(claim.state, REQUEST_CHANGES)
            claim.reviewed_by, claim.reviewed_at = caller.account_id, now
            claim.review_comment, claim.updated_at = data["comment"], now
            self._flush()
            return self._claim_view(session, claim)

        return self.idempotency.run(session, idempotency_key, caller.account_id,
                                    "request_claim_changes", [exchange_id, payload], effect)

    # --- payouts and payment runs ---------------------------------------------------------

    @rpc
    def get_payout(self, payout_id: str) -> dict[str, Any]:
        payout = repository.get_payout(self.db.reader, payout_id)
        _ensure_claim_visible(self.auth.caller, payout)
        return _payout_view(payout)

    @rpc
    def list_payouts(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """Payouts the caller may see; `overdue=true`: those past their due date, not paid."""
        filters = load(_payout_list, query or {})
        account, partnership = _scope(self.auth.caller)
        if filters["partnership_id"] and partnership is None and account is None:
            partnership = filters["partnership_id"]
        rows, total = repository.list_payouts(
            self.db.reader, account_id=account, partnership_id=partnership, state=filters["state"],
            overdue_on=_today() if filters["overdue"] else None, page=filters["page"],
            per_page=filters["per_page"])
        return page_of([_payout_view(row) for row in rows], total, filters["page"], filters["per_page"])

    @rpc
    def create_batch(self, payload: dict[str, Any] | None = None,
                     idempotency_key: str | None = None) -> dict[str, Any]:
        """Groups the partnership's approved (and failed, to retry) payouts into a payment run."""
        caller = self.auth.caller
        data = load(_create_batch, payload or {})
        partnership = data["partnership_id"] or caller.partnership_id
        if not partnership or not _may_see_budget(caller, partnership):
            raise NotFound("No payouts of that partnership you may batch.")
        session = self.db.session

        def effect() -> dict[str, Any]:
            batch_id = repository.create_batch(session, partnership, caller.account_id, utcnow(),
                                               data["execution_date"] or _today(), data["payout_ids"])
            return self._batch_view(session, batch_id)

        return self.idempotency.run(session, idempotency_key, caller.account_id, "create_batch",
                                    payload or {}, effect)

    @rpc
    def get_batch(self, batch_id: str) -> dict[str, Any]:
        session = self.db.session
        self._visible_batch(session, batch_id)
        return self._batch_view(session, batch_id)

    @rpc
    def list_batches(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        filters = load(_batch_list, query or {})
        if caller.is_admin:
            partnership = filters["partnership_id"]
        elif caller.has("partnership_contact") and caller.partnership_id:
            partnership = caller.partnership_id
        else:
            raise NotAllowed("Only contact points and administrators see payment runs.")
        session = self.db.session
        rows, total = repository.list_batches(session, partnership, filters["page"], filters["per_page"])
        return page_of([self._batch_view(session, row.id) for row in rows], total, filters["page"],
                       filters["per_page"])

    @rpc
    def mark_batch_paid(self, batch_id: str, idempotency_key: str | None = None) -> dict[str, Any]:
        """The bank executed the run: each payout still pending is paid (`payout_paid` each)."""
        caller = self.auth.caller
        session = self.db.session

        def effect() -> dict[str, Any]:
            self._visible_batch(session, batch_id)
            pending = repository.pending_items(session, batch_id)
            paid = set(repository.mark_batch_paid(session, batch_id, new_id(), utcnow()))
            for item in pending:
                if item.exchange_id in paid:
                    self._emit("payout_paid", repository.get_payout(session, item.payout_id),
                               caller.account_id, batch_id=batch_id)
            return self._batch_view(session, batch_id)

        return self.idempotency.run(session, idempotency_key, caller.account_id, "mark_batch_paid",
                                    batch_id, effect)

    @rpc
    def mark_payout_failed(self, payout_id: str, payload: dict[str, Any],
                           idempotency_key: str | None = None) -> dict[str, Any]:
        """The bank refused or returned one transfer: it waits for a later run (`payout_failed`)."""
        caller = self.auth.caller
        data = load(_fail, payload or {})
        session = self.db.session

        def effect() -> dict[str, Any]:
            payout = repository.get_payout(session, payout_id)
            if not _may_see_budget(caller, payout.partnership_id):
                raise NotFound("No such payout.")
            before = payout.state
            repository.mark_payout_failed(session, payout_id, data["reason"], new_id(), utcnow())
            payout = repository.get_payout(session, payout_id)
            if before != payout.state:
                self._emit("payout_failed", payout, caller.account_id)
            return _payout_view(payout)

        return self.idempotency.run(session, idempotency_key, caller.account_id, "mark_payout_failed",
                                    [payout_id, payload], effect)

    @rpc
    def set_debtor_account(self, partnership_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The partnership's own account its payment runs are paid from (administrators)."""
        caller = self.auth.caller
        if not caller.is_admin:
            if _may_see_budget(caller, partnership_id):
                raise NotAllowed("Only an administrator sets the partnership's bank account.")
            raise NotFound("No such partnership.")
        data = load(_set_debtor, payload or {})
        account = validate_debtor(data["name"], data["iban"], data["bic"])
        session = self.db.session
        saved = repository.save_debtor_account(session, partnership_id, name=account.name,
                                               iban=account.iban, bic=account.bic,
                                               updated_by=caller.account_id, at=utcnow())
        session.flush()
        view = _debtor_view(saved)
        session.commit()
        return view

    @rpc
    def get_debtor_account(self, partnership_id: str) -> dict[str, Any]:
        if not _may_see_budget(self.auth.caller, partnership_id):
            raise NotFound("No such partnership.")
        account = repository.debtor_account(self.db.session, partnership_id)
        if account is None:
            raise NotFound("The partnership has no bank account for payment runs yet.")
        return _debtor_view(account)

    @rpc
    def sepa_file(self, batch_id: str) -> dict[str, Any]:
        """The run's pain.001 credit-transfer file: every payout of the batch, paid from the
        partnership's account to the visitors' accounts of their financial agreements. A batch
        keeps its MsgId, fixed at creation: a bank refuses the same run submitted twice."""
        caller = self.auth.caller
        session = self.db.session
        batch = self._visible_batch(session, batch_id)
        debtor = repository.debtor_account(session, batch.partnership_id)
        if debtor is None:
            raise InvalidState("The partnership has no bank account for payment runs yet; an "
                               "administrator sets it.", {"debtor_account": ["Missing."]})
        items = repository.batch_items(session, batch_id)
        records = self.rpc_client.call("agreements", "get_payout_accounts",
                                       [item.exchange_id for item in items], auth_token=caller.token)
        accounts = {record["exchange_id"]: self.account_keys.account(record) for record in records}
        missing = [item.end_to_end_id for item in items if item.exchange_id not in accounts]
        if missing:
            raise InvalidState(f"No bank account for {', '.join(missing[:10])}.",
                               {"payouts": [f"{ref}: no bank account." for ref in missing[:50]]})
        transfers = [CreditTransfer(
            payout_id=item.payout_id, end_to_end_id=item.end_to_end_id,
            creditor_name=accounts[item.exchange_id].holder, iban=accounts[item.exchange_id].iban,
            amount_cents=item.amount_cents, remittance=remittance_for(item.end_to_end_id),
            bic=accounts[item.exchange_id].bic) for item in items]
        session.close()  # no transaction held while the file is built
        built = tpool.execute(build_credit_transfer_file,
                              SepaDebtor(debtor.name, debtor.iban, debtor.bic), transfers,
                              batch.execution_date, batch.message_id, self._settings["sepa_schema"])
        return _sepa.dump({"filename": f"{batch.message_id}.xml", "content_type": "application/xml",
                           "schema": built.schema, "message_id": built.message_id,
                           "transaction_count": built.transaction_count,
                           "control_sum_cents": built.control_sum_cents,
                           "xml": built.xml.decode("utf-8")})

    # --- events from agreements ------------------------------------------------------------

    @handles("agreements", "financial_agreement_signed")
    def handle_financial_agreement_signed(self, payload: dict[str, Any]) -> None:
        """Makes sure the lump sum is reserved: agreements reserved it at signing
        (`reserve_for_exchange`), so this finds it done; it matters only for an agreement
        signed while that step could not run. One that does not fit fails, is retried, and
        ends parked: an administrator raises the budget and replays it (`cxc events replay`)."""
        session = self.db.session
        if not first_delivery(session, InboxEvent, payload["event_id"], "handle_financial_agreement_signed"):
            return
        amount = int(payload.get("amount_cents") or 0)
        if _cancelled_first(session, payload["exchange_id"]):
            log.warning("exchange %s was cancelled before its lump sum was reserved: not reserving",
                        payload["exchange_id"])
        elif amount > 0:  # a virtual exchange carries no lump sum
            try:
                # The same cause as the reservation made at signing: found there, a no-op.
                repository.reserve(session, payload["visitor_partnership_id"], payload["exchange_id"],
                                   amount, reservation_cause(payload["exchange_id"]), utcnow())
            except (InsufficientBudget, NoBudget) as exc:
                log.warning("exchange %s: lump sum of %s not reserved: %s", payload["exchange_id"],
                            euros(amount), exc)
                raise
        session.commit()

    @handles("agreements", "exchange_cancelled")
    def handle_exchange_cancelled(self, payload: dict[str, Any]) -> None:
        """Releases what the exchange had reserved (nothing reserved: nothing to do)."""
        session = self.db.session
        if not first_delivery(session, InboxEvent, payload["event_id"], "handle_exchange_cancelled"):
            return
        state = repository.funds_state(session, payload["exchange_id"])
        if state == Funds.RESERVED:
            repository.release(session, payload["exchange_id"], payload["event_id"], utcnow())
        elif state == Funds.NONE:
            # The reservation may still come (it failed and is retried, or is parked and
            # replayed later): remember the cancellation so it does not reserve then.
            first_delivery(session, InboxEvent, payload["exchange_id"], CANCELLED_BEFORE_RESERVATION)
        session.commit()

    @handles("agreements", "closing_report_submitted")
    def handle_closing_report_submitted(self, payload: dict[str, Any]) -> None:
        """Opens the visitor's payment claim (the visitor wrote the report: the actor)."""
        session = self.db.session
        if not first_delivery(session, InboxEvent, payload["event_id"], "handle_closing_report_submitted"):
            return
        if payload.get("amount_cents") == 0:
            session.commit()  # nothing to claim (a virtual exchange): agreements closes it
            return
        repository.open_claim(session, exchange_id=payload["exchange_id"],
                              exchange_reference=payload["reference"],
                              partnership_id=payload["visitor_partnership_id"],
                              visitor_account_id=payload.get("visitor_account_id") or payload["actor_id"],
                              at=utcnow())
        session.commit()

    # --- helpers --------------------------------------------------------------------------

    @property
    def _settings(self) -> dict[str, Any]:
        return {**DEFAULTS, **(self.config.get("PAYMENTS") or {})}

    def _quote(self, host_country: str, working_days: int, mode: str, distance_km: float | None,
               on_date: date | str | None) -> dict[str, Any]:
        settings = self._settings
        day = date.fromisoformat(on_date) if isinstance(on_date, str) else (on_date or _today())
        table = repository.load_table(self.db.reader, settings["threshold_cents"])
        result = quotes.quote(host_country, working_days, mode, distance_km, day, table,
                              threshold_cents=settings["threshold_cents"],
                              short_stay_days=settings["short_stay_days"],
                              min_distance_km=settings["min_distance_km"])
        return _quote.dump({**result.to_dict(), "halved": result.halved})

    def _emit(self, event_type: str, payout: Any, actor_id: str | None, **extra: Any) -> None:
        """Ids, states and amounts only: never the IBAN or a name."""
        record_event(self.db.session, OutboxEvent, make_event(event_type, {
            "payout_id": payout.id, "claim_id": payout.claim_id, "exchange_id": payout.exchange_id,
            "reference": payout.exchange_reference, "partnership_id": payout.partnership_id,
            "amount_cents": payout.amount_cents, "state": payout.state,
            "attempt": payout.attempts, "due_on": payout.due_on.isoformat(), **extra}, actor_id))

    def _flush(self) -> None:
        try:
            self.db.session.flush()
        except StaleDataError as exc:
            raise StaleVersion("Someone else changed this claim; reload it.") from exc

    def _claim_view(self, session: Any, claim: Any) -> dict[str, Any]:
        payout = repository.payout_of_exchange(session, claim.exchange_id)
        return _claim.dump({
            **{key: getattr(claim, key) for key in (
                "id", "exchange_id", "exchange_reference", "partnership_id", "state", "version",
                "submitted_at", "reviewed_at", "review_comment")},
            "evidence": repository.evidence_of(session, claim.id),
            "payout": _payout_data(payout) if payout else None})

    def _visible_batch(self, session: Any, batch_id: str) -> Any:
        batch = repository.get_batch(session, batch_id)
        if not _may_see_budget(self.auth.caller, batch.partnership_id):
            raise NotFound("No such payment batch.")
        return batch

    def _batch_view(self, session: Any, batch_id: str) -> dict[str, Any]:
        batch = repository.get_batch(session, batch_id)
        return _batch.dump({**batch._asdict(), "items": repository.batch_items(session, batch_id)})

    def _member_of(self, caller: Caller, partnership_id: str) -> bool:
        """A participant with an accepted registration in the partnership."""
        if not caller.has("participant"):
            return False
        own = self.rpc_client.call("registration", "list_registrations", {"status": "accepted"},
                                   auth_token=caller.token)
        return any(item.get("partnership_id") == partnership_id for item in own["items"])

    def _budget_view(self, conn: Any, partnership_id: str, row: Any = None) -> dict[str, Any]:
        row = row if row is not None else repository.budget_row(conn, partnership_id)
        if row is None:
            raise NotFound(NoBudget.for_partnership(partnership_id).detail)
        return _budget.dump({
            "partnership_id": row.partnership_id, "budget_cents": row.budget_cents,
            "reserved_cents": row.reserved_cents, "paid_cents": row.paid_cents,
            "available_cents": row.budget_cents - row.reserved_cents - row.paid_cents,
            "updated_at": row.updated_at, "version": repository.budget_version(conn, partnership_id),
            "kpis": repository.budget_kpis(conn, partnership_id)})


_MONEY_KEYS = ("budget_cents", "reserved_cents", "paid_cents", "available_cents",
               "reserved_exchanges", "paid_exchanges", "released_exchanges")


def _money_row(row: Any) -> dict[str, Any]:
    return {"partnership_id": row.partnership_id, "budget_cents": int(row.budget_cents),
            "reserved_cents": int(row.reserved_cents), "paid_cents": int(row.paid_cents),
            "available_cents": int(row.budget_cents - row.reserved_cents - row.paid_cents),
            **{key: int(getattr(row, key)) for key in _MONEY_KEYS[4:]}}


def _cancelled_first(session: Any, exchange_id: str) -> bool:
    inbox = InboxEvent.__table__
    return session.execute(select(inbox.c.event_id).where(
        inbox.c.event_id == exchange_id, inbox.c.handler == CANCELLED_BEFORE_RESERVATION)).first() is not None


def _may_see_budget(caller: Caller, partnership_id: str) -> bool:
    return caller.is_admin or (caller.has("partnership_contact")
                               and caller.partnership_id == partnership_id)


def _scope(caller: Caller) -> tuple[str | None, str | None]:
    """(account, partnership) a list is limited to: none for administrators."""
    if caller.is_admin:
        return None, None
    if caller.has("partnership_contact") and caller.partnership_id:
        return None, caller.partnership_id
    if caller.has("participant"):
        return caller.account_id, None
    raise NotAllowed("Your role sees no payment claims or payouts.")


def _ensure_claim_visible(caller: Caller, claim: Any) -> None:
    """The visitor, the contact points of the visitor's partnership, administrators; else 404."""
    if not (caller.account_id == claim.visitor_account_id
            or _may_see_budget(caller, claim.partnership_id)):
        raise NotFound("No payment claim for this exchange.")


def _ensure_visitor(caller: Caller, claim: Any) -> None:
    _ensure_claim_visible(caller, claim)
    if caller.account_id != claim.visitor_account_id:
        raise NotAllowed("Only the visiting organisation adds evidence and submits its claim.")


def _ensure_reviewer(caller: Caller, claim: Any) -> None:
    _ensure_claim_visible(caller, claim)
    if not _may_see_budget(caller, claim.partnership_id):
        raise NotAllowed("The contact point of the visitor's partnership reviews the claim.")


def _check_version(current: int, given: int | None) -> None:
    if given is not None and given != current:
        raise StaleVersion(f"You read version {given}; the claim is now at version {current}. "
                           "Reload it.")


def _payout_data(payout: Any) -> dict[str, Any]:
    data = dict(payout._asdict())
    data["overdue"] = is_overdue(data["due_on"], _today(), data["state"] == PAID)
    return data


def _payout_view(payout: Any) -> dict[str, Any]:
    return _payout.dump(_payout_data(payout))


def _debtor_view(account: Any) -> dict[str, Any]:
    return _debtor.dump({"partnership_id": account.partnership_id, "name": account.name,
                         "iban_masked": mask_iban(account.iban), "bic": account.bic,
                         "updated_at": account.updated_at})


def _rate_view(rate: Any) -> dict[str, Any]:
    return {"country": rate.country, "country_name": country_name(rate.country),
            "amount_cents": rate.amount_cents, "valid_from": rate.valid_from,
            "valid_to": rate.valid_to, "version": rate.version}


def _today() -> date:
    return datetime.now(UTC).date()


def reservation_cause(exchange_id: str) -> str:
    """One reservation per exchange, whoever makes it (the signing RPC or the event)."""
    return f"financial-agreement:{exchange_id}"
