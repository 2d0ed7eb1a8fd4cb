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
from functools import cache

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
_WORD = re.compile(r"[^\W\d_](?:[\w\-']*\w)?|\d+[^\W_]*\w*", re.UNICODE)


@dataclass(frozen=True)
class Word:
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
    return _identifier().classify(text)[0]


@cache
def stop_words() -> frozenset[str]:
    others = (fold(w) for words in lexicon()["stop_words"].values() for w in words)
    return frozenset(ENGLISH_STOP_WORDS) | frozenset(others)


def _term(word: str, language: str) -> str:
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
def _concepts() -> dict[tuple[str, ...], str]:
    """Lexicon phrases as tuples of terms (stemmed in their own language) and as written (lower
    case, no accents) -> concept term: a German word in an English text is found as written."""
    found: dict[tuple[str, ...], str] = {}
    stops = stop_words()
    for concept, forms in lexicon()["concepts"].items():
        for language, phrases in forms.items():
            for phrase in phrases:
                words = [w.lower() for w in _WORD.findall(phrase) if fold(w.lower()) not in stops]
                if not words or len(words) > _MAX_PHRASE:
                    continue
                found.setdefault(tuple(_term(w, language) for w in words), CONCEPT_PREFIX + concept)
                found.setdefault(tuple(fold(w) for w in words), CONCEPT_PREFIX + concept)
    return found


@cache
def _longest_concept() -> int:
    return max((len(key) for key in _concepts()), default=1)


class Analyser:
    """Analyses texts; remembers each (language, word) it has stemmed, so a corpus costs a few
    dictionary look-ups per word once its vocabulary has been seen."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], tuple[str | None, bool, str]] = {}
        self._stops = stop_words()
        self._filler = _filler()
        self._concepts = _concepts()

    def analyse(self, text: str, language: str | None = None) -> Analysis:
        language = language or detect(text)
        words = []
        for match in _WORD.finditer(text):
            term, filler, folded = self._word(match.group().lower(), language)
            words.append(Word(match.start(), match.end(), term, filler, folded))
        return Analysis(language, tuple(words), self._find_concepts(words))

    def terms(self, text: str) -> list[str]:
        return self.analyse(text).terms()

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

    def _word(self, word: str, language: str) -> tuple[str | None, bool, str]:
        known = self._seen.get((language, word))
        if known is None:
            folded = fold(word)
            if folded in self._stops or len(folded) < 2:
                known = (None, False, folded)
            else:
                term = _term(word, language)
                filler = term in self._filler or _term(word, DEFAULT_LANGUAGE) in self._filler
                known = (term, filler, folded)
            if len(self._seen) < 2_000_000:
                self._seen[(language, word)] = known
        return known

    def _find_concepts(self, words: list[Word]) -> tuple[tuple[str, int, int], ...]:
        """Longest lexicon phrase first, over the content words (function words in between are skipped)."""
        content = [(i, w.term, w.folded) for i, w in enumerate(words) if w.term is not None]
        found = []
        longest = _longest_concept()
        k = 0
        while k < len(content):
            for size in range(min(longest, len(content) - k), 0, -1):
                run = content[k:k + size]
                concept = (self._concepts.get(tuple(term for _, term, _ in run))
                           or self._concepts.get(tuple(folded for _, _, folded in run)))
                if concept is not None:
                    found.append((concept, content[k][0], content[k + size - 1][0] + 1))
                    k += size
                    break
            else:
                k += 1
        return tuple(found)
