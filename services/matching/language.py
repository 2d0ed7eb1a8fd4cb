"""Words of a free text as matching and search see them: language, word forms, the programme's vocabulary.

A text is split into words; its language is detected (py3langid, restricted to the languages we
can stem); each word is lower-cased and stemmed with that language's Snowball stemmer (PyStemmer),
then stripped of accents, so "electrolysers" and "electrolyser", "drones" and "drone" give one
term. Function words never become terms. Words of the curated lexicon (common/refdata/lexicon.json)
add a concept term ("c:hydrogen" for hydrogen, Wasserstoff, hydrogène, idrogeno, hidrógeno,
wodór...), also for phrases of up to three words ("heat pump", "pompe à chaleur"), which is how one
language meets another. Domain filler ("cluster", "members", "companies"...) is kept out of the
terms too: it says nothing about what an organisation does.

Everything here is a pure function of the text and the shipped reference data: the same text gives
the same terms in every process, whatever else was indexed before.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, cached_property
from typing import NamedTuple

import Stemmer
from py3langid.langid import MODEL_FILE, LanguageIdentifier
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from common.reference import lexicon

# Languages the platform's texts come in and that have a Snowball stemmer (ISO 639-1 -> Snowball).
STEMMERS = {
    "en": "english", "de": "german", "fr": "french", "it": "italian", "es": "spanish", "pl": "polish",
    "nl": "dutch", "pt": "portuguese", "sv": "swedish", "da": "danish", "fi": "finnish", "cs": "czech",
    "ro": "romanian", "hu": "hungarian", "el": "greek", "lt": "lithuanian", "et": "estonian",
    "ga": "irish", "ca": "catalan", "eu": "basque", "sr": "serbian", "tr": "turkish", "ru": "russian",
    "no": "norwegian", "hy": "armenian",
}
DEFAULT_LANGUAGE = "en"
CONCEPT_PREFIX = "c:"
_MAX_PHRASE = 3
_DETECT_CHARS = 240  # py3langid walks the text byte by byte in Python: the start says enough
_WORD = re.compile(r"[^\W\d_](?:[\w\-']*\w)?|\d+[^\W_]*\w*", re.UNICODE)


class Word(NamedTuple):
    """One word of a text: where it is, its term (None for function words) and whether it is filler."""

    start: int
    end: int
    term: str | None
    filler: bool
    folded: str  # as written, lower case without accents


@dataclass(frozen=True)
class Analysis:
    language: str
    words: tuple[Word, ...]
    concepts: tuple[tuple[str, int, int], ...]  # (concept term, first word, word past the last)

    def terms(self) -> list[str]:
        """Index terms: content words that are not filler, and the concepts found."""
        found = [w.term for w in self.words if w.term is not None and not w.filler]
        found.extend(concept for concept, _, _ in self.concepts)
        return found

    @cached_property
    def term_set(self) -> frozenset[str]:
        """The distinct index terms (kept with a cached analysis: explaining a page compares the
        asker's terms with each candidate's)."""
        return frozenset(self.terms())


def fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(STEMMERS.get(language, STEMMERS[DEFAULT_LANGUAGE]))


@cache
def _identifier() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    identifier.set_languages(sorted(STEMMERS))
    return identifier


def detect(text: str) -> str:
    """The text's language among those we stem (English when there is nothing to go by)."""
    if not _WORD.search(text):
        return DEFAULT_LANGUAGE
    return _identifier().classify(text[:_DETECT_CHARS])[0]


@cache
def stop_words() -> frozenset[str]:
    others = (fold(w) for words in lexicon()["stop_words"].values() for w in words)
    return frozenset(ENGLISH_STOP_WORDS) | frozenset(others)


@cache
def _kept() -> frozenset[str]:
    return frozenset(w for words in lexicon().get("keep_as_written", {}).values() for w in words)


def _term(word: str, language: str) -> str:
    if word in _kept():
        return fold(word)
    return fold(_stemmer(language).stemWord(word))


@cache
def _filler() -> frozenset[str]:
    """Filler as terms: each word stemmed in its own language and in English."""
    found = set()
    for language, words in lexicon()["filler"].items():
        for word in words:
            found.add(_term(word.lower(), language))
            found.add(_term(word.lower(), DEFAULT_LANGUAGE))
    return frozenset(found)


@cache
def _concepts() -> dict[tuple[str, ...], tuple[str, ...]]:
    """Lexicon phrases as tuples of terms (stemmed in their own language) and as written (lower
    case, no accents) -> concept terms (a stem may stand for two notions: "hospit" is hospital
    and hospitality): a German word in an English text is found as written."""
    found: dict[tuple[str, ...], tuple[str, ...]] = {}
    stops = stop_words()
    for concept, forms in lexicon()["concepts"].items():
        for language, phrases in forms.items():
            for phrase in phrases:
                words = [w.lower() for w in _WORD.findall(phrase) if fold(w.lower()) not in stops]
                if not words or len(words) > _MAX_PHRASE:
                    continue
                for key in (tuple(_term(w, language) for w in words), tuple(fold(w) for w in words)):
                    known = found.get(key, ())
                    if CONCEPT_PREFIX + concept not in known:
                        found[key] = (*known, CONCEPT_PREFIX + concept)
    return found


@cache
def _phrase_starts() -> dict[str, int]:
    """First word of each lexicon phrase of two words or more (as a term or as written) -> the
    longest phrase it starts."""
    starts: dict[str, int] = {}
    for key in _concepts():
        if len(key) > 1:
            starts[key[0]] = max(starts.get(key[0], 0), len(key))
    return starts


class Analyser:
    """Analyses texts; remembers each (language, word) it has stemmed, so a corpus costs a few
    dictionary look-ups per word once its vocabulary has been seen."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, tuple[str | None, bool, str]]] = {}
        self._stops = stop_words()
        self._filler = _filler()
        self._concepts = _concepts()
        self._starts = _phrase_starts()
        self._single = {key[0]: concepts for key, concepts in self._concepts.items() if len(key) == 1}
        _identifier()  # load the language model now (about a second), not in the first request

    def analyse(self, text: str, language: str | None = None) -> Analysis:
        language = language or detect(text)
        lower = text.lower()  # same length as text for the alphabets we stem, so spans carry over
        seen = self._seen.setdefault(language, {})
        as_lower = len(lower) == len(text)
        words: list[Word] = []
        content = []  # (position, term, as written) of the content words
        new_word = Word._make
        for match in _WORD.finditer(lower if as_lower else text):
            word = match.group() if as_lower else match.group().lower()
            known = seen.get(word) or self._word(word, language, seen)
            if known[0] is not None:
                content.append((len(words), known[0], known[2]))
            words.append(new_word((*match.span(), *known)))
        return Analysis(language, tuple(words), self._find_concepts(content))

    def terms(self, text: str) -> list[str]:
        return self.language_and_terms(text)[1]

    def places(self, text: str, language: str) -> dict[str, list[int]]:
        """Where each term (not filler) and concept stands, counted in content words (function
        words are skipped): what phrase proximity needs, without an Analysis."""
        seen = self._seen.setdefault(language, {})
        lower = text.lower()
        words = _WORD.findall(lower) if len(lower) == len(text) else [w.lower() for w in _WORD.findall(text)]
        known = (seen.get(word) or self._word(word, language, seen) for word in words)
        content = [(k, term, folded, filler)
                   for k, (term, filler, folded) in enumerate(w for w in known if w[0] is not None)]
        found: dict[str, list[int]] = {}
        for k, term, _, filler in content:
            if not filler:
                found.setdefault(term, []).append(k)
        for concept, start, end in self._find_concepts([(k, term, folded) for k, term, folded, _ in content]):
            found.setdefault(concept, []).extend(range(start, end))
        return found

    def language_and_terms(self, text: str) -> tuple[str, list[str]]:
        """The text's language and index terms (Analysis.terms without keeping where each word is)."""
        language = detect(text)
        seen = self._seen.setdefault(language, {})
        lower = text.lower()
        words = _WORD.findall(lower) if len(lower) == len(text) else [w.lower() for w in _WORD.findall(text)]
        known = [seen.get(word) or self._word(word, language, seen) for word in words]
        found = [term for term, filler, _ in known if term is not None and not filler]
        content = [(i, term, folded) for i, (term, _, folded) in enumerate(known) if term is not None]
        found.extend(concept for concept, _, _ in self._find_concepts(content))
        return language, found

    def query_alternatives(self, text: str) -> list[set[str]]:
        """Per query word (or lexicon phrase), every term it may stand for: queries are short, so
        their language is uncertain; each word is stemmed as the detected language, as English and
        as itself, and a lexicon phrase in any of the lexicon's languages adds its concept."""
        detected = detect(text)
        found: list[set[str]] = []
        analyses = {lang: self.analyse(text, lang) for lang in dict.fromkeys((detected, DEFAULT_LANGUAGE))}
        first = analyses[detected]
        covered: dict[int, set[str]] = {}
        lexicon_languages = dict.fromkeys((detected, *lexicon()["languages"]))
        for language in lexicon_languages:
            analysis = analyses.get(language) or self.analyse(text, language)
            for concept, start, end in analysis.concepts:
                covered.setdefault(start, set()).add(concept)
                for position in range(start + 1, end):
                    covered.setdefault(position, set())
        for position, word in enumerate(first.words):
            options = {a.words[position].term for a in analyses.values()} - {None}
            if not options:
                continue
            options.add(fold(text[word.start:word.end].lower()))
            options |= covered.get(position, set())
            found.append(options)
        return found

    def _word(self, word: str, language: str,
              seen: dict[str, tuple[str | None, bool, str]]) -> tuple[str | None, bool, str]:
        folded = fold(word)
        if folded in self._stops or len(folded) < 2:
            known: tuple[str | None, bool, str] = (None, False, folded)
        else:
            term = _term(word, language)
            known = (term, term in self._filler or _term(word, DEFAULT_LANGUAGE) in self._filler, folded)
        if len(seen) < 500_000:
            seen[word] = known
        return known

    def _find_concepts(self, content: list[tuple[int, str, str]]) -> tuple[tuple[str, int, int], ...]:
        """Longest lexicon phrase first, over the content words (position, term, as written);
        function words in between are skipped."""
        found = []
        starts, concepts_of = self._starts, self._concepts
        k, n = 0, len(content)
        while k < n:
            position, term, folded = content[k]
            size = min(max(starts.get(term, 0), starts.get(folded, 0)), n - k)
            while size > 1:
                run = content[k:k + size]
                concepts = (concepts_of.get(tuple(t for _, t, _ in run))
                            or concepts_of.get(tuple(f for _, _, f in run)))
                if concepts:
                    past = run[-1][0] + 1
                    found.extend((concept, position, past) for concept in concepts)
                    break
                size -= 1
            if size <= 1:
                single = self._single.get(term) or self._single.get(folded)
                if single:
                    found.extend((concept, position, position + 1) for concept in single)
                size = 1
            k += size
        return tuple(found)
