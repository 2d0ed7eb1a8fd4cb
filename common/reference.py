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


_LABELLED = ("sectors", "objectives", "activity_types")


@cache
def labels() -> dict[str, dict[str, str]]:
    """Human labels by kind and code: sectors, objectives, activity types, languages,
    modes, countries (what people read; the codes stay for machines)."""
    tax = taxonomy()
    found = {kind: dict(tax[kind]) for kind in _LABELLED}
    found["languages"] = dict(tax.get("language_names", {}))
    found["modes"] = {"physical": "physical", "virtual": "virtual"}
    found["countries"] = {c["code"]: c["name"] for c in countries()}
    return found


def label(kind: str, code: str) -> str:
    return labels().get(kind, {}).get(code, code)


def lexicon() -> dict[str, Any]:
    """Matching's multilingual vocabulary: concepts with their words per language, filler and stop words."""
    return _load("lexicon")
