"""The web application's translation layer: every message of the code and templates is in every
catalogue with the same placeholders, no template shows text outside gettext, the language
follows the switcher's cookie then the browser, and dates and amounts follow the language."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel import Locale

from common import reference
from gateway.web import i18n
from gateway.web.i18n import available_locales, choose_locale, negotiate, problems
from gateway.web.labels import CLDR_KINDS, KIND_LABELS, REFERENCE_LABELS, STATUS_LABELS
from gateway.web.render import TEMPLATES, day, euros, label, options, render, when, when_local

TRANSLATED = [code for code in available_locales() if code != i18n.DEFAULT_LOCALE]
HOW_TO_FIX = ("run `make translations` (python -m gateway.web.i18n update), translate the listed "
              "messages in the .po file (and remove any `#, fuzzy` mark once checked), see docs/web.md")


def test_french_is_a_language_of_the_pages():
    assert "fr" in TRANSLATED


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_of_the_pages_is_translated_with_the_same_placeholders(locale):
    found = problems(locale)
    assert not found, f"{len(found)} message(s) of the pages lack a {locale} translation; " \
                      f"{HOW_TO_FIX}:\n" + "\n".join(found)


def _catalogue(tmp_path, monkeypatch, body: str) -> None:
    po = tmp_path / "xx" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Language: xx\\n"\n"Plural-Forms: nplurals=2; plural=(n > 1);\\n"\n\n'
                  + body, encoding="utf-8")
    monkeypatch.setattr(i18n, "TRANSLATIONS", tmp_path)


def test_the_check_lists_missing_fuzzy_and_misplaced_translations(tmp_path, monkeypatch):
    template = i18n.Catalog()
    template.add("Sign in", locations=[("gateway/web/templates/base.html", 3)])
    template.add("Signed in as %(name)s", locations=[("gateway/web/templates/base.html", 4)])
    template.add("Page not found", locations=[("gateway/web/pages.py", 31)])
    template.add(("%(num)d payout", "%(num)d payouts"), locations=[("x.html", 1)])
    template.add("Open", context="queries", locations=[("y.html", 1)])
    _catalogue(tmp_path, monkeypatch, (
        '#, fuzzy\nmsgid "Page not found"\nmsgstr "Introuvable"\n\n'
        'msgid "Signed in as %(name)s"\nmsgstr "Connecté en tant que %(nom)s"\n\n'
        'msgid "%(num)d payout"\nmsgid_plural "%(num)d payouts"\n'
        'msgstr[0] "un versement"\nmsgstr[1] "%(num)d versements"\n\n'
        'msgid "Open"\nmsgstr "Ouvrir"\n'))
    found = problems("xx", template)
    assert [line.split(" (")[0] for line in found] == [
        "missing: 'Sign in'",
        "placeholders differ: 'Signed in as %(name)s'",
        "fuzzy: 'Page not found'",
        "missing: 'Open'",  # the context makes it another message
    ]
    assert "gateway/web/templates/base.html:3" in found[0]


def test_the_catalogue_compiles_and_falls_back_to_english_for_a_fuzzy_message(tmp_path, monkeypatch):
    _catalogue(tmp_path, monkeypatch, (
        'msgid "Sign in"\nmsgstr "Anmelden"\n\n#, fuzzy\nmsgid "Sign out"\nmsgstr "Abmelden"\n'))
    i18n.translations.cache_clear()
    try:
        compiled = i18n.translations("xx")
        assert compiled.gettext("Sign in") == "Anmelden"
        assert compiled.gettext("Sign out") == "Sign out"
    finally:
        i18n.translations.cache_clear()


# --- text outside gettext -----------------------------------------------------------------

# Words that are the same in every language (names, codes, symbols).
ALLOWED_TEXT = {"IBAN", "BIC", "SEPA", "CV", "PDF", "ClusterXchange", "UTC"}
VISIBLE_ATTRIBUTES = ("title", "alt", "placeholder", "aria-label")
GETTEXT_CALL = re.compile(r"(?:\b_|\bgettext|\bngettext|\bpgettext)\(\s*$")


class _TextNodes(HTMLParser):
    """The text nodes and the visible attributes of a template whose jinja parts are blanked."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "svg"):
            self._skip += 1
        shown = dict(attrs)
        for name, value in attrs:
            # A value is read only on a button-like input (a <button>'s value is never shown).
            if value and (name in VISIBLE_ATTRIBUTES or name == "value" and tag == "input" and
                          shown.get("type") in ("submit", "button", "reset")):
                self.found.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "svg"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data):
        if not self._skip:
            self.found.append(data)


def _raw_words(text: str) -> list[str]:
    words = re.findall(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'-]*", text)
    return [w for w in words if w not in ALLOWED_TEXT]


def _untranslated(source: str) -> list[str]:
    source = re.sub(r"{#.*?#}", "", source, flags=re.S)
    expressions = re.findall(r"{{.*?}}|{%.*?%}", source, flags=re.S)
    blanked = re.sub(r"{{.*?}}|{%.*?%}", " ", source, flags=re.S)
    parser = _TextNodes()
    parser.feed(blanked)
    # A macro writing attributes (`aria-invalid="true"`) leaves them outside any tag.
    found = [text.strip() for text in parser.found
             if _raw_words(re.sub(r'[\w-]+="[^"]*"', "", text))]
    # A sentence written as a string literal inside an expression, not handed to gettext
    # (`m.input("name", "Your name")`): it starts with a capital or has a space between words.
    for expression in expressions:
        for match in re.finditer(r"\"([^\"]*)\"|'([^']*)'", expression):
            literal = match.group(1) if match.group(1) is not None else match.group(2)
            if not re.match(r"[A-Z][a-z]+|[a-z]+ [a-z]+", literal) or not _raw_words(literal):
                continue
            before = expression[:match.start()]
            if GETTEXT_CALL.search(before) or re.search(r"pgettext\(\s*(\"[^\"]*\"|'[^']*')\s*,\s*$",
                                                         before):
                continue
            if re.search(r"ngettext\((\"[^\"]*\"|'[^']*')\s*,\s*$", before):
                continue
            found.append(literal)
    return found


def test_no_template_shows_text_outside_gettext():
    found = {path.name: raw for path in sorted(TEMPLATES.glob("*.html"))
             if (raw := _untranslated(path.read_text(encoding="utf-8")))}
    assert found == {}, "text outside _() in templates (wrap it in _(\"...\"), or add a name " \
                        "that is the same in every language to ALLOWED_TEXT):\n" + repr(found)


def test_the_raw_text_check_finds_text_nodes_attributes_and_literals():
    source = ('<p>{{ _("Fine") }}</p><h2>Raw heading</h2><img alt="A picture" src="/x.png">'
              '{{ m.input("name", "Your name") }}{{ m.input("iban", _("IBAN")) }}'
              '<span>IBAN</span>{# A comment #}{{ x|replace("_", " ") }}'
              '{{ pgettext("queries", "Open") }}{{ ngettext("%(num)d day", "%(num)d days", 2) }}')
    assert _untranslated(source) == ["Raw heading", "A picture", "Your name"]


# --- reference data and states --------------------------------------------------------------

def test_every_reference_label_is_translatable():
    kinds = [kind for kind in reference.labels() if kind not in CLDR_KINDS]
    labels = {text for kind in kinds for text in reference.labels()[kind].values()}
    labels |= {spec["label"] for spec in reference.organisation_types().values()}
    assert labels - set(REFERENCE_LABELS) == set(), "add them to gateway/web/labels.py"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_countries_and_languages_are_named_by_cldr_in_every_language(locale):
    for kind, cldr in CLDR_KINDS.items():
        names = getattr(Locale.parse(locale), cldr)
        assert [code for code in reference.labels()[kind] if code not in names] == [], kind


def test_states_and_reference_labels_read_in_french():
    html = render("fr", "macros.html")  # the macros load; a state's label below
    assert html is not None
    assert label("PT", "countries", "fr") == "Portugal" and label("DE", "countries", "fr") == "Allemagne"
    assert label("digital", "sectors", "fr") == "Numérique"
    assert label("digital", "sectors") == "Digital" and label("??", "sectors", "fr") == "??"
    assert dict(options("organisation_types", "fr"))["sme"] == "PME"
    assert "changes_requested" in STATUS_LABELS
    fr = i18n.translations("fr")
    assert fr.gettext(STATUS_LABELS["changes_requested"]) == "modifications demandées"


# --- choosing the language ------------------------------------------------------------------

def test_the_language_follows_the_browser_by_preference_among_the_catalogues():
    assert negotiate("fr-FR,fr;q=0.9,en;q=0.5") == "fr"
    assert negotiate("en-GB,en;q=0.9,fr;q=0.8") == "en"
    assert negotiate("de-DE, en;q=0.4, fr;q=0.7") == "fr"  # no German: the next by weight
    assert negotiate("fr;q=0, en") == "en"  # q=0 means "not this one"
    assert negotiate("de, it") == "en" and negotiate("") == "en"
    assert negotiate("fr;q=abc") == "en"


def test_the_switchers_cookie_wins_over_the_browser():
    assert choose_locale("fr", "en-GB,en") == "fr"
    assert choose_locale("en", "fr") == "en"
    assert choose_locale("xx", "fr") == "fr"  # an unknown (or forged) cookie is ignored
    assert choose_locale(None, "") == "en"


# --- formats --------------------------------------------------------------------------------

def test_dates_and_amounts_follow_the_language():
    assert euros(110000) == "€1,100.00" and euros(None) == "—"
    assert euros(110000, "fr") == "1\u202f100,00\xa0€" and euros(-150, "fr") == "-1,50\xa0€"
    assert day("2026-12-05") == "5 December 2026" and day("2026-12-05", "fr") == "5 décembre 2026"
    assert when("2026-12-05T14:30:00+00:00", "fr") == "5 décembre 2026, 14:30 UTC"
    assert when_local("2026-12-07T10:00:00+01:00", "fr") == "lundi 7 décembre 2026, 10:00"
    assert when_local("2026-12-07T10:00:00+01:00") == "Monday 7 December 2026, 10:00"
    assert day("2027-03-01", "fr") == "1er mars 2027" and day("2027-03-01") == "1 March 2027"
    assert when_local("2027-03-01T10:00:00+01:00", "fr") == "lundi 1er mars 2027, 10:00"


def test_a_page_renders_in_french_with_its_lang_and_the_switcher():
    html = render("fr", "home.html", title="Exchange know-how with clusters across Europe",
                  section="home", partnerships=[], web=None)
    assert '<html lang="fr">' in html
    assert "Échangez votre savoir-faire avec des clusters de toute l'Europe" in html
    assert "Se connecter" in html and "Sign in" not in html
    assert 'href="/language/en?next=/"' in html and 'hreflang="en"' in html
    assert '<span class="cxc-languages__current" lang="fr" aria-current="true">Français</span>' in html
    english = render("en", "home.html", title="Exchange know-how with clusters across Europe",
                     section="home", partnerships=[], web=None)
    assert '<html lang="en">' in english and "Sign in" in english


def test_the_catalogue_is_read_from_the_po_file_without_a_build_step():
    assert not list(Path(i18n.TRANSLATIONS).rglob("*.mo"))
    assert i18n.translations("fr").gettext("Sign in") == "Se connecter"


def test_every_kind_of_notification_has_words_to_translate():
    from services.notifications import domain  # the tests may look at both sides

    kinds = set(domain.NON_ESSENTIAL_KINDS) | set(domain.ESSENTIAL_KINDS)
    assert kinds - set(KIND_LABELS) == set(), "add them to KIND_LABELS in gateway/web/labels.py"
    assert i18n.translations("fr").gettext(KIND_LABELS["contact_requested"]) == "Demande de contact reçue"
