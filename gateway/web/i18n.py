"""The translation layer: every string of a page goes through gettext (English first).

Each language other than English is a catalogue,
`gateway/web/translations/<locale>/LC_MESSAGES/messages.po`, compiled in memory the first time
a page needs it (no `.mo` file to build or to forget). The messages are extracted from the
code and templates as `gateway/web/babel.cfg` says:

    python -m gateway.web.i18n update   # adds new messages to every catalogue, drops gone ones
    python -m gateway.web.i18n check    # lists what a catalogue lacks (exit status 1 if any)
    python -m gateway.web.i18n init de  # starts a new language

(`make translations` runs `update` then `check`.)
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import NullTranslations, Translations

WEB = Path(__file__).resolve().parent
TRANSLATIONS = WEB / "translations"
MAPPING = WEB / "babel.cfg"
DEFAULT_LOCALE = "en"
LANGUAGE_COOKIE = "cxc_lang"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Marks a message for extraction; it is translated where it is shown."""
    return message


def language_name(locale: str) -> str:
    """The language's name in that language, as the switcher shows it (CLDR): Français."""
    name = Locale.parse(locale).get_display_name(locale) or locale
    return name[:1].upper() + name[1:]


def catalogue_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


@cache
def available_locales() -> tuple[str, ...]:
    found = sorted(p.name for p in TRANSLATIONS.iterdir() if catalogue_path(p.name).is_file()) \
        if TRANSLATIONS.is_dir() else []
    return (DEFAULT_LOCALE, *[code for code in found if code != DEFAULT_LOCALE])


def read_catalogue(locale: str) -> Catalog:
    with catalogue_path(locale).open("rb") as po:
        return read_po(po, locale=locale)


@cache
def translations(locale: str) -> NullTranslations:
    """The locale's messages; English (the messages themselves) for a locale without a
    catalogue. A fuzzy or empty translation falls back to English too."""
    if locale == DEFAULT_LOCALE or not catalogue_path(locale).is_file():
        return NullTranslations()
    compiled = BytesIO()
    write_mo(compiled, read_catalogue(locale), use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled)


def negotiate(accept_language: str) -> str:
    """The most preferred language of Accept-Language (by its q weights, then its order)
    that has a catalogue, else English."""
    wanted = []
    for order, part in enumerate(accept_language.split(",")):
        code, _, params = part.strip().partition(";")
        weight = 1.0
        match = re.search(r"q\s*=\s*([^;\s]*)", params)
        if match:
            try:
                weight = float(match.group(1))
            except ValueError:
                weight = 0.0
        primary = code.strip().lower().split("-")[0]
        if weight > 0 and primary in available_locales():
            wanted.append((-weight, order, primary))
    return min(wanted)[2] if wanted else DEFAULT_LOCALE


def choose_locale(cookie: str | None, accept_language: str) -> str:
    """The language chosen with the switcher (its cookie), else the browser's."""
    if cookie in available_locales():
        return cookie
    return negotiate(accept_language)


# --- extraction and catalogues (developer commands) -----------------------------------------

def extract() -> Catalog:
    """Every message of the code and templates, as `pybabel extract -F babel.cfg` finds them."""
    with MAPPING.open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, str(MAPPING))
    template = Catalog(project="ClusterXchange", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
            WEB, method_map, options_map, keywords=DEFAULT_KEYWORDS):
        template.add(message, None, [(f"gateway/web/{filename}", lineno)],
                     auto_comments=comments, context=context)
    return template


PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def problems(locale: str, template: Catalog | None = None) -> list[str]:
    """What the locale's catalogue lacks: each message of the code without a translation
    (or only a fuzzy one), or whose translation's placeholders differ from the message's."""
    template = template if template is not None else extract()
    catalogue = read_catalogue(locale)
    found = []
    for message in template:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        translated = catalogue.get(key, message.context)
        where = ", ".join(f"{path}:{line}" for path, line in message.locations[:2])
        if translated is None or translated.fuzzy or not _complete(translated.string):
            state = "fuzzy" if translated is not None and translated.fuzzy else "missing"
            found.append(f"{state}: {key!r} ({where})")
            continue
        originals = message.id if isinstance(message.id, tuple) else (message.id,)
        expected = placeholders(originals[-1])
        strings = translated.string if isinstance(translated.string, tuple) else (translated.string,)
        for index, string in enumerate(strings):
            # A singular form may spell its number out ("une notification"); the plural
            # forms and every other message keep exactly the message's placeholders.
            named = set(placeholders(string))
            if named != set(expected) and not (index == 0 and len(strings) > 1
                                               and named <= set(expected)):
                found.append(f"placeholders differ: {key!r} ({where}): {string!r}")
                break
    return found


def _complete(string: str | tuple[str, ...]) -> bool:
    return all(string) if isinstance(string, tuple) else bool(string)


def update(locales: Iterable[str]) -> Catalog:
    """Merges the extracted messages into each catalogue: new ones come in untranslated,
    changed ones as fuzzy (with the old translation to start from), gone ones are dropped."""
    template = extract()
    for locale in locales:
        catalogue = read_catalogue(locale)
        created = catalogue.creation_date
        catalogue.update(template, update_header_comment=False)
        catalogue.creation_date = created  # no diff (and no merge conflict) when nothing changed
        _write(locale, catalogue)
    return template


def init(locale: str) -> None:
    template = extract()
    catalogue = Catalog(locale=locale, project="ClusterXchange", fuzzy=False)
    catalogue.update(template)
    catalogue_path(locale).parent.mkdir(parents=True, exist_ok=True)
    _write(locale, catalogue)


def _write(locale: str, catalogue: Catalog) -> None:
    catalogue.project, catalogue.version = "ClusterXchange", "web"
    catalogue.msgid_bugs_address = catalogue.last_translator = "ClusterXchange"
    catalogue.language_team = locale
    with catalogue_path(locale).open("wb") as po:
        write_po(po, catalogue, width=100, sort_by_file=True, ignore_obsolete=True,
                 include_previous=True)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    locales = [code for code in available_locales() if code != DEFAULT_LOCALE]
    if command == "init" and len(argv) == 2:
        init(argv[1])
        print(f"Created {catalogue_path(argv[1])}: translate it, then run `make translations`.")
        return 0
    if command not in ("update", "check"):
        print(__doc__)
        return 2
    template = update(locales) if command == "update" else extract()
    failed = False
    for locale in locales:
        found = problems(locale, template)
        failed = failed or bool(found)
        print(f"{locale}: {len(found) or 'no'} message(s) to translate in {catalogue_path(locale)}")
        for line in found:
            print(f"  {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
