"""The lump sum an exchange earns, with the rules that gave it, in words.

Rounding: halving floors to the cent (`full // 2`): an odd figure gives the visitor the lower
cent, so a quote never promises more than the table allows and reserve/pay use the very same
integer. Halving happens once, even when both reasons (short stay, short distance) apply,
since the scheme says "halved when ... and/or ...".

Distance unknown (no coordinates and no gazetteer match for either city): the quote says so
and does not halve for distance. Halving on a guess would cost the visitor money on missing
data; the contact point can correct the organisations' location and ask for a new quote.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from common.errors import ValidationFailed
from services.payments.exceptions import country_name
from services.payments.lump_sums import DEFAULT_THRESHOLD_CENTS, LumpSumTable
from services.payments.money import ensure_cents, euros

PHYSICAL = "physical"
VIRTUAL = "virtual"
MODES = (PHYSICAL, VIRTUAL)

DEFAULT_SHORT_STAY_DAYS = 5
DEFAULT_MIN_DISTANCE_KM = 200

FULL_RATE = "full_rate"
HALVED_SHORT_STAY = "halved_short_stay"
HALVED_DISTANCE = "halved_distance"
HALVED_ONCE = "halved_once"
DISTANCE_UNKNOWN = "distance_unknown"
VIRTUAL_NO_LUMP_SUM = "virtual_no_lump_sum"
CAPPED_AT_THRESHOLD = "capped_at_threshold"


@dataclass(frozen=True)
class RuleApplied:
    code: str
    text: str


@dataclass(frozen=True)
class Quote:
    host_country: str
    mode: str
    working_days: int
    distance_km: float | None
    amount_cents: int
    full_rate_cents: int
    threshold_cents: int
    rules: tuple[RuleApplied, ...] = field(default_factory=tuple)
    # Which figure of the table was used (None for a virtual exchange, which needs none).
    rate_version: int | None = None
    rate_valid_from: date | None = None

    @property
    def halved(self) -> bool:
        return any(rule.code in (HALVED_SHORT_STAY, HALVED_DISTANCE) for rule in self.rules)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rules"] = [asdict(rule) for rule in self.rules]
        data["rate_valid_from"] = self.rate_valid_from.isoformat() if self.rate_valid_from else None
        return data


def _km(distance_km: float, limit_km: int) -> str:
    # "200 km apart, under 200 km" would read as a contradiction: show the decimal then.
    shown = f"{distance_km:.0f}"
    if distance_km < limit_km <= round(distance_km):
        shown = f"{distance_km:.1f}"
    return f"{shown} km"


def _check_inputs(mode: str, working_days: int, distance_km: float | None) -> None:
    if mode not in MODES:
        raise ValidationFailed(f"Unknown mode {mode!r}.", {"mode": [f"Must be one of: {', '.join(MODES)}."]})
    if isinstance(working_days, bool) or not isinstance(working_days, int) or working_days < 1:
        raise ValidationFailed("working_days must be a whole number of at least 1.",
                               {"working_days": ["Must be a whole number of at least 1."]})
    if distance_km is not None and distance_km < 0:
        raise ValidationFailed("distance_km must not be negative.",
                               {"distance_km": ["Must not be negative."]})


def quote(host_country: str, working_days: int, mode: str, distance_km: float | None, on_date: date,
          table: LumpSumTable, threshold_cents: int = DEFAULT_THRESHOLD_CENTS,
          short_stay_days: int = DEFAULT_SHORT_STAY_DAYS,
          min_distance_km: int = DEFAULT_MIN_DISTANCE_KM) -> Quote:
    """The lump sum for a stay in `host_country` of `working_days`, rates as on `on_date`."""
    _check_inputs(mode, working_days, distance_km)
    ensure_cents(threshold_cents, "threshold_cents", positive=True)
    common = {"host_country": host_country, "mode": mode, "working_days": working_days,
              "distance_km": distance_km, "threshold_cents": threshold_cents}
    if mode == VIRTUAL:
        rule = RuleApplied(VIRTUAL_NO_LUMP_SUM, "Virtual exchanges carry no travel lump sum")
        return Quote(**common, amount_cents=0, full_rate_cents=0, rules=(rule,))

    rate = table.rate_on(host_country, on_date)
    rules = [RuleApplied(FULL_RATE, f"Full rate for a stay in {country_name(host_country)}: "
                                    f"{euros(rate.amount_cents)}")]
    reasons = []
    if working_days < short_stay_days:
        reasons.append(RuleApplied(
            HALVED_SHORT_STAY, f"Halved: {working_days} working days is under {short_stay_days}"))
    if distance_km is None:
        rules.append(RuleApplied(
            DISTANCE_UNKNOWN, "Distance between the organisations unknown: not halved for distance"))
    elif distance_km < min_distance_km:
        reasons.append(RuleApplied(
            HALVED_DISTANCE, f"Halved: the organisations are {_km(distance_km, min_distance_km)} "
                             f"apart, under {min_distance_km} km"))
    rules.extend(reasons)
    amount = rate.amount_cents // 2 if reasons else rate.amount_cents
    if len(reasons) > 1:
        rules.append(RuleApplied(HALVED_ONCE, "Halved once, although both reasons apply"))
    if amount > threshold_cents:
        amount = threshold_cents
        rules.append(RuleApplied(
            CAPPED_AT_THRESHOLD, f"Capped at the programme threshold of {euros(threshold_cents)}"))
    return Quote(**common, amount_cents=amount, full_rate_cents=rate.amount_cents, rules=tuple(rules),
                 rate_version=rate.version, rate_valid_from=rate.valid_from)
