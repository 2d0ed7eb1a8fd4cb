"""The translation layer: every string of a page goes through gettext (English first).

Catalogues live in gateway/web/translations/<locale>/LC_MESSAGES/messages.mo (extract with
`pybabel extract -F gateway/web/babel.cfg -o gateway/web/translations/messages.pot gateway/web`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DEFAULT_LOCALE = "en"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Marks a message for extraction; it is translated where it is shown."""
    return message


@cache
def available_locales() -> tuple[str, ...]:
    found = sorted(p.name for p in TRANSLATIONS.iterdir() if (p / "LC_MESSAGES").is_dir()) \
        if TRANSLATIONS.is_dir() else []
    return (DEFAULT_LOCALE, *[code for code in found if code != DEFAULT_LOCALE])


@cache
def translations(locale: str) -> NullTranslations:
    return Translations.load(str(TRANSLATIONS), [locale])


def negotiate(accept_language: str) -> str:
    """The first language of Accept-Language that has a catalogue, else English."""
    for part in accept_language.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in available_locales():
            return code
    return DEFAULT_LOCALE
