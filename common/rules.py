"""The shape every explained check takes (eligibility, an exchange's plan): each rule passed or
not, with a message, and the failures grouped by field for a 422."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RuleResult:
    rule: str
    field: str
    passed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "field": self.field, "passed": self.passed,
                "message": self.message}


def failures_by_field(results: list[RuleResult]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for result in results:
        if not result.passed:
            errors.setdefault(result.field, []).append(result.message)
    return errors


def lookup(data: dict[str, Any], path: str) -> Any:
    """`data["a"]["b"]` for the path "a.b"; None where a step is missing."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
