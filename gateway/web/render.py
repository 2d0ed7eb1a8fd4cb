"""Jinja2 templates, with gettext from the translation layer and a few formatting filters."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from common import reference
from gateway.web.assets import static_url
from gateway.web.i18n import translations

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def environment(locale: str) -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(["html"]), extensions=["jinja2.ext.i18n"],
                      trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.install_gettext_translations(translations(locale), newstyle=True)
    env.filters.update(euros=euros, day=day, when=when, label=label, field_name=field_name,
                       kind_label=kind_label, kind_choice=lambda kind: (kind, kind_label(kind)),
                       when_local=when_local,
                       slot_choice=lambda slot: (slot["start"], when_local(slot["local_start"])))
    env.globals.update(options=options, locale=locale, new_key=lambda: str(uuid.uuid4()), static=static_url,
                       listed=listed)
    return env


def render(locale: str, template: str, **context: Any) -> str:
    return environment(locale).get_template(template).render(**context)


def euros(cents: int | None) -> str:
    if cents is None:
        return "—"
    return f"€{cents / 100:,.2f}"


def day(value: str | date | None) -> str:
    if not value:
        return "—"
    parsed = date.fromisoformat(str(value)[:10]) if not isinstance(value, date) else value
    return parsed.strftime("%-d %B %Y")


def when(value: str | datetime | None) -> str:
    if not value:
        return "—"
    parsed = datetime.fromisoformat(str(value)) if not isinstance(value, datetime) else value
    return parsed.strftime("%-d %B %Y, %H:%M UTC")


def when_local(value: str) -> str:
    """A time in its own zone (a meeting slot in Brussels time), as it was given."""
    return datetime.fromisoformat(value).strftime("%A %-d %B %Y, %H:%M")


def kind_label(kind: str) -> str:
    """A notification kind (its event type) in words: `exchange_signed` -> "Exchange signed"."""
    return kind.replace("_", " ").capitalize()


def label(code: str | None, kind: str) -> str:
    """The reference label of a code (a country, a sector...), or the code itself."""
    if not code:
        return "—"
    try:
        return reference.label(kind, code)
    except Exception:
        return code


@cache
def options(kind: str) -> tuple[tuple[str, str], ...]:
    """(code, label) pairs of one kind of reference data, by label, for selects and boxes."""
    if kind == "organisation_types":
        found = {code: spec["label"] for code, spec in reference.organisation_types().items()}
    else:
        found = reference.labels()[kind]
    return tuple(sorted(found.items(), key=lambda pair: pair[1]))


def listed(values: Any, name: str) -> list[str]:
    """The values of a repeated field, from a submitted form or from stored data."""
    if hasattr(values, "getlist"):
        return values.getlist(name)
    found = values.get(name) if values else None
    return list(found) if isinstance(found, list | tuple) else []


def field_name(dotted: str) -> str:
    """A field's name for an error summary: `organisation.country` -> "Organisation: country"."""
    parts = [p.replace("_", " ") for p in dotted.split(".") if not p.isdigit()]
    if not parts:
        return dotted
    if len(parts) == 1:
        return parts[0].capitalize()
    return f"{parts[0].capitalize()}: {' '.join(parts[1:])}"
