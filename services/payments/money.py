"""Amounts are integer euro cents everywhere; these helpers only format and check them."""

from __future__ import annotations

from common.errors import ValidationFailed


def euros(cents: int) -> str:
    """`78000` → `€780.00`, with a thousands separator (`€1,100.00`)."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}€{whole:,}.{rest:02d}"


def decimal_text(cents: int) -> str:
    """`78000` → `780.00`: the form bank files and JSON decimals use (never via float)."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole}.{rest:02d}"


def ensure_cents(value: object, field: str, *, positive: bool = False) -> int:
    """An amount given to the domain must be a plain int (bool and float are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{field} must be a whole number of euro cents.",
                               {field: ["Must be a whole number of euro cents."]})
    if value < 0 or (positive and value == 0):
        needed = "greater than zero" if positive else "zero or more"
        raise ValidationFailed(f"{field} must be {needed}.", {field: [f"Must be {needed}."]})
    return value
