"""The payments service's specific errors.

Each keeps `AppError`'s `(detail, errors)` signature, because nameko re-creates a remote
exception as `cls(*args)`: build them with the named constructors below, never with other
arguments. They are registered for RPC, so a caller that imports this module gets the same
class back; any other caller still gets a `RemoteError` (see the wiring notes).

- A host country without a rate, a rate above the threshold, an amount that is not whole
  cents: the *request* cannot be served as given → `ValidationFailed` (422), with the
  offending field named in `errors`.
- A reservation that does not fit, releasing or paying what is not reserved: the request is
  well formed but collides with the current state of the budget → `Conflict` (409).
"""

from __future__ import annotations

from datetime import date

from nameko.exceptions import deserialize_to_instance

from common import reference
from common.errors import Conflict, InvalidState, ValidationFailed
from services.payments.money import euros


def country_name(code: str) -> str:
    for country in reference.countries():
        if country["code"] == code:
            return country["name"]
    return code


@deserialize_to_instance
class NoLumpSumRate(ValidationFailed):
    """The table has no figure for this host country on this date (422: never a guess)."""

    title, type_slug = "No lump-sum rate", "no-lump-sum-rate"

    @classmethod
    def for_country(cls, country: str, on_date: date) -> NoLumpSumRate:
        message = (f"There is no lump-sum rate for {country_name(country)} ({country}) on "
                   f"{on_date.isoformat()}; an administrator must add one to the lump-sum table.")
        return cls(message, {"host_country": [message]})


@deserialize_to_instance
class RateAboveThreshold(ValidationFailed):
    title, type_slug = "Rate above the programme threshold", "rate-above-threshold"

    @classmethod
    def for_rate(cls, country: str, amount_cents: int, threshold_cents: int) -> RateAboveThreshold:
        message = (f"The rate for {country_name(country)} ({country}) would be {euros(amount_cents)}, "
                   f"above the programme threshold of {euros(threshold_cents)}.")
        return cls(message, {"amount_cents": [message]})


@deserialize_to_instance
class OverlappingRates(ValidationFailed):
    title, type_slug = "Overlapping rates", "overlapping-rates"

    @classmethod
    def for_country(cls, country: str, first: date, second: date) -> OverlappingRates:
        message = (f"Two rates for {country_name(country)} ({country}) overlap: the one from "
                   f"{first.isoformat()} and the one from {second.isoformat()}.")
        return cls(message, {"valid_from": [message]})


@deserialize_to_instance
class InsufficientBudget(Conflict):
    """A reservation that does not fit the partnership's available budget."""

    title, type_slug = "Insufficient budget", "insufficient-budget"

    @classmethod
    def for_amounts(cls, partnership_id: str, available_cents: int, needed_cents: int
                    ) -> InsufficientBudget:
        return cls(
            f"The partnership's available budget is {euros(available_cents)}; this needs "
            f"{euros(needed_cents)}.",
            {"available_cents": available_cents, "needed_cents": needed_cents,
             "partnership_id": partnership_id},
        )


@deserialize_to_instance
class BudgetBelowCommitments(Conflict):
    title, type_slug = "Budget below commitments", "budget-below-commitments"

    @classmethod
    def for_amounts(cls, new_budget_cents: int, committed_cents: int) -> BudgetBelowCommitments:
        return cls(
            f"The budget cannot become {euros(new_budget_cents)}: {euros(committed_cents)} is "
            "already reserved or paid.",
            {"budget_cents": new_budget_cents, "committed_cents": committed_cents},
        )


@deserialize_to_instance
class NoBudget(Conflict):
    title, type_slug = "No budget", "no-budget"

    @classmethod
    def for_partnership(cls, partnership_id: str) -> NoBudget:
        return cls(f"Partnership {partnership_id} has no budget envelope yet.",
                   {"partnership_id": partnership_id})


@deserialize_to_instance
class FundsNotInState(InvalidState):
    """Releasing, paying or failing an exchange whose money is not where the step needs it."""

    @classmethod
    def for_exchange(cls, exchange_id: str, action: str, needed: str, found: str) -> FundsNotInState:
        return cls(f"Cannot {action} exchange {exchange_id}: its lump sum is {found}, not {needed}.",
                   {"exchange_id": exchange_id, "state": found})


@deserialize_to_instance
class InvalidIban(ValidationFailed):
    title, type_slug = "Invalid bank account", "invalid-iban"

    @classmethod
    def for_payout(cls, payout: str, field: str, reason: str) -> InvalidIban:
        message = f"Payout {payout}: {field} is not valid ({reason})."
        return cls(message, {payout: [message]})
