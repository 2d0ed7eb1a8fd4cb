"""Reference data shipped as files under common/refdata (loaded into databases by `cxc seed`)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

REFDATA = Path(__file__).parent / "refdata"


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((REFDATA / f"{name}.json").read_text(encoding="utf-8"))


def taxonomy() -> dict[str, Any]:
    return _load("taxonomy")


def countries() -> list[dict[str, Any]]:
    return _load("countries")["countries"]


def partnerships() -> list[dict[str, Any]]:
    return _load("partnerships")["partnerships"]


def sector_codes() -> frozenset[str]:
    return frozenset(taxonomy()["sectors"])


def objective_codes() -> frozenset[str]:
    return frozenset(taxonomy()["objectives"])


def activity_type_codes() -> frozenset[str]:
    return frozenset(taxonomy()["activity_types"])


def organisation_types() -> dict[str, dict[str, Any]]:
    return taxonomy()["organisation_types"]


def language_codes() -> frozenset[str]:
    return frozenset(taxonomy()["languages"])


def country_codes() -> frozenset[str]:
    return frozenset(c["code"] for c in countries())
