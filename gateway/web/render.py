"""Jinja2 templates, with gettext from the translation layer and a few formatting filters."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import date, datetime
from decimal import Decimal
from functools import cache, partial
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from babel.units import format_unit
from jinja2 import Environment, FileSystemLoader, select_autoescape

from common import reference
from gateway.web.assets import static_url
from gateway.web.i18n import DEFAULT_LOCALE, available_locales, language_name, translations
from gateway.web.labels import CLDR_KINDS, KIND_LABELS, side_text, status_text

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def environment(locale: str) -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(["html"]), extensions=["jinja2.ext.i18n"],
                      trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.install_gettext_translations(translations(locale), newstyle=True)
    gettext = translations(locale).gettext
    local = partial(when_local, locale=locale)
    env.filters.update(euros=partial(euros, locale=locale), day=partial(day, locale=locale),
                       when=partial(when, locale=locale), number=partial(number, locale=locale),
                       filesize=partial(filesize, locale=locale),
                       label=partial(label, locale=locale), field_name=field_name,
                       status_text=status_text, side_text=side_text,
                       kind_label=lambda kind: gettext(kind_label(kind)),
                       kind_choice=lambda kind: (kind, gettext(kind_label(kind))),
                       when_local=local,
                       slot_choice=lambda slot: (slot["start"], local(slot["local_start"])))
    env.globals.update(options=partial(options, locale=locale), locale=locale,
                       new_key=lambda: str(uuid.uuid4()), static=static_url, listed=listed,
                       languages=[(code, language_name(code)) for code in available_locales()])
    return env


def render(locale: str, template: str, **context: Any) -> str:
    return environment(locale).get_template(template).render(**context)


def formatting_locale(locale: str) -> str:
    """English pages write dates and amounts the British way (5 December 2026, €1,100.00)."""
    return "en_GB" if locale == "en" else locale


def long_date(value: date, locale: str, pattern: str = "long") -> str:
    """A date in words; French writes the first of the month "1er" (1er mars 2027)."""
    text = format_date(value, pattern, locale=formatting_locale(locale))
    if value.day == 1 and locale.startswith("fr"):
        text = re.sub(r"\b1 ", "1er ", text, count=1)
    return text


def euros(cents: int | None, locale: str = "en") -> str:
    if cents is None:
        return "—"
    return format_currency(Decimal(cents) / 100, "EUR", locale=formatting_locale(locale))


def number(value: float | int | None, locale: str = "en") -> str:
    if value is None:
        return "—"
    return format_decimal(value, locale=formatting_locale(locale))


def filesize(size: int | None, locale: str = "en") -> str:
    """A document's size in the page's language and units (12.3 kB, 12,3 ko)."""
    if size is None:
        return "—"
    for unit, scale in (("digital-megabyte", 1000 ** 2), ("digital-kilobyte", 1000)):
        if size >= scale:
            return format_unit(size / scale, unit, length="short", format="#,##0.#",
                               locale=formatting_locale(locale))
    return format_unit(size, "digital-byte", length="short", locale=formatting_locale(locale))


def day(value: str | date | None, locale: str = "en") -> str:
    if not value:
        return "—"
    parsed = date.fromisoformat(str(value)[:10]) if not isinstance(value, date) else value
    return long_date(parsed, locale)


def when(value: str | datetime | None, locale: str = "en") -> str:
    """A moment as stored (UTC), with its date in the page's language."""
    if not value:
        return "—"
    parsed = datetime.fromisoformat(str(value)) if not isinstance(value, datetime) else value
    return f"{long_date(parsed.date(), locale)}, " \
           f"{parsed:%H:%M} UTC"


def when_local(value: str, locale: str = "en") -> str:
    """A time in its own zone (a meeting slot in Brussels time), as it was given."""
    parsed = datetime.fromisoformat(value)
    return f"{long_date(parsed.date(), locale, 'EEEE d MMMM y')}, " \
           f"{parsed:%H:%M}"


def kind_label(kind: str) -> str:
    """A notification kind (its event type) in words: `exchange_signed` -> "Exchange signed"."""
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def label(code: str | None, kind: str, locale: str = "en") -> str:
    """The reference label of a code (a country, a sector...) in the page's language, or the
    code itself."""
    if not code:
        return "—"
    try:
        english = reference.label(kind, code)
    except Exception:
        return code
    return localised_label(kind, code, english, locale)


def localised_label(kind: str, code: str, english: str, locale: str) -> str:
    if locale == DEFAULT_LOCALE:
        return english
    if kind in CLDR_KINDS:
        return getattr(Locale.parse(locale), CLDR_KINDS[kind]).get(code, english)
    return translations(locale).gettext(english)


@cache
def options(kind: str, locale: str = "en") -> tuple[tuple[str, str], ...]:
    """(code, label) pairs of one kind of reference data, by label, for selects and boxes."""
    if kind == "organisation_types":
        found = {code: spec["label"] for code, spec in reference.organisation_types().items()}
    else:
        found = reference.labels()[kind]
    named = {code: localised_label(kind, code, text, locale) for code, text in found.items()}
    return tuple(sorted(named.items(), key=lambda pair: strxfrm_key(pair[1])))


def strxfrm_key(text: str) -> str:
    """Sorts "Égypte" with the E's: accents aside, then case aside."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()


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
