"""Explanations of a match for the registration that asked: what fits, what does not, in words.

Every sentence names things with the reference data's labels (common/reference.py); the codes
stay in `values`, for machines. Fits come heaviest contribution first, misfits costliest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from common.reference import label
from services.matching.language import Analysis

SET_KINDS = ("sectors", "objectives", "activity_types")
FACTOR_LABELS = {
    "sectors": "Sectors", "primary_sector": "Main sector", "objectives": "Objectives",
    "activity_types": "Activity types", "availability": "Common dates", "languages": "Languages",
    "country_preference": "Target countries", "mode": "Exchange mode", "text": "Descriptions",
}
_PHRASES = 4
_PHRASE_WORDS = 6  # a longer run of shared words is quoted in pieces


@dataclass(frozen=True)
class Reason:
    kind: str
    detail: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Side:
    """One registration as its explanation needs it, decoded from the index's columns."""

    sets: dict[str, tuple[str, ...]]  # sectors, objectives, activity_types, languages, modes
    primary_sector: str
    country: str
    targets: tuple[str, ...]
    windows: list[tuple[int, int]]


def words(items: Iterable[str], last: str = "and") -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {last} " + items[-1]


def labels(kind: str, codes: Iterable[str]) -> list[str]:
    """The codes' labels, in alphabetical order."""
    return sorted(label(kind, code) for code in codes)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _iso(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def _spans(windows: list[tuple[int, int]]) -> str:
    return words([f"{_iso(s)} to {_iso(e)}" for s, e in windows])


def common_windows(mine: list[tuple[int, int]], theirs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    common = []
    for a_start, a_end in mine:
        for b_start, b_end in theirs:
            start, end = max(a_start, b_start), min(a_end, b_end)
            if start <= end:
                common.append((start, end))
    return sorted(common)


_SET_FIT = {"sectors": "Both work in {}.", "objectives": "Shared objectives: {}.",
            "activity_types": "Both want {}."}
_SET_MISFIT = {"sectors": "No sector in common: you work in {}; they work in {}.",
               "objectives": "No objective in common: yours are {}; theirs are {}.",
               "activity_types": "No activity type in common: you want {}; they want {}."}


def _set_reasons(kind: str, me: Side, them: Side) -> tuple[Reason | None, Reason | None]:
    mine, theirs = me.sets[kind], them.sets[kind]
    common = sorted(set(mine) & set(theirs))
    shown = (lambda codes: [_lower_first(w) for w in labels(kind, codes)]) if kind == "activity_types" \
        else (lambda codes: labels(kind, codes))
    if common:
        return Reason(kind, _SET_FIT[kind].format(words(shown(common))), tuple(common)), None
    if mine and theirs:
        detail = _SET_MISFIT[kind].format(words(shown(mine)), words(shown(theirs)))
        return None, Reason(kind, detail, tuple(sorted(theirs)))
    return None, None


def _primary_reasons(me: Side, them: Side) -> tuple[Reason | None, Reason | None]:
    mine, theirs = me.primary_sector, them.primary_sector
    if not mine or not theirs:
        return None, None
    if mine == theirs:
        return Reason("primary_sector", f"Same main sector: {label('sectors', mine)}.", (mine,)), None
    detail = (f"Different main sectors: yours is {label('sectors', mine)}, "
              f"theirs is {label('sectors', theirs)}.")
    return None, Reason("primary_sector", detail, (mine, theirs))


def _availability_reasons(me: Side, them: Side) -> tuple[Reason | None, Reason | None]:
    if not me.windows or not them.windows:
        return None, None
    common = common_windows(me.windows, them.windows)
    if not common:
        detail = (f"No common dates: you are available {_spans(me.windows)}; "
                  f"they are available {_spans(them.windows)}.")
        return None, Reason("availability", detail, tuple(_iso(v) for span in them.windows for v in span))
    days = sum(end - start + 1 for start, end in common)
    values = tuple(_iso(v) for span in common for v in span)
    return Reason("availability", f"Both available {_spans(common)} ({days} days in common).", values), None


def _language_reasons(me: Side, them: Side) -> tuple[Reason | None, Reason | None]:
    mine, theirs = me.sets["languages"], them.sets["languages"]
    common = sorted(set(mine) & set(theirs))
    if common:
        return Reason("languages", f"Common languages: {words(labels('languages', common))}.",
                      tuple(common)), None
    if mine and theirs:
        detail = (f"No common language: you work in {words(labels('languages', mine))}; "
                  f"they work in {words(labels('languages', theirs))}.")
        return None, Reason("languages", detail, tuple(theirs))
    return None, None


def _country_reasons(me: Side, them: Side) -> tuple[Reason | None, Reason | None]:
    good, good_values, bad, bad_values = [], [], [], []
    their_country, my_country = label("countries", them.country), label("countries", me.country)
    if me.targets:
        if them.country in me.targets:
            good.append(f"{their_country} is one of your target countries")
            good_values.append(them.country)
        else:
            bad.append(f"{their_country} is not one of your target countries "
                       f"({words(labels('countries', me.targets))})")
            bad_values.append(them.country)
    if them.targets:
        if me.country in them.targets:
            good.append(f"they look for partners from {my_country}")
            good_values.append(me.country)
        else:
            bad.append(f"they look for partners from {words(labels('countries', them.targets), 'or')}, "
                       f"not {my_country}")
            bad_values.extend(them.targets)

    def sentence(parts: list[str], values: list[str]) -> Reason | None:
        if not parts:
            return None
        detail = "; ".join(parts)
        return Reason("country_preference", detail[0].upper() + detail[1:] + ".", tuple(values))

    return sentence(good, good_values), sentence(bad, bad_values)


def _mode_reasons(me: Side, them: Side, every_mode: tuple[str, ...]) -> tuple[Reason | None, Reason | None]:
    mine, theirs = me.sets["modes"] or every_mode, them.sets["modes"] or every_mode
    common = sorted(set(mine) & set(theirs))
    if common:
        detail = f"Both accept {words(labels('modes', common), 'or')} exchanges."
        return Reason("mode", detail, tuple(common)), None
    detail = (f"No exchange mode acceptable to both: you want {words(labels('modes', mine), 'or')}; "
              f"they want {words(labels('modes', theirs), 'or')}.")
    return None, Reason("mode", detail, tuple(theirs))


def shared_phrases(mine: Analysis, theirs: Analysis, their_text: str,
                   rarity: Mapping[str, float]) -> tuple[str, ...]:
    """The passages of their text made of distinctive terms both texts use, rarest first.

    A word counts if its term (stem) or a lexicon concept it belongs to is in both texts; filler
    and function words never count, though a function word inside a phrase ("pompe à chaleur")
    is kept in the passage shown. rarity: the IDF of (at least) each of my terms."""
    shared = mine.term_set & theirs.term_set
    if not shared:
        return ()
    hit: dict[int, str] = {}
    for concept, start, end in theirs.concepts:
        if concept in shared:
            for position in range(start, end):
                hit[position] = concept
    for position, word in enumerate(theirs.words):
        if word.term in shared and not word.filler:
            hit.setdefault(position, word.term)
    runs: list[list[int]] = []
    for position in sorted(hit):
        previous = runs[-1][-1] if runs else None
        gap = range(previous + 1, position) if previous is not None else range(0)
        joins = previous is not None and len(gap) <= 1 and all(theirs.words[p].term is None for p in gap)
        if joins and len(runs[-1]) < _PHRASE_WORDS:
            runs[-1].append(position)
        else:
            runs.append([position])
    scored: dict[str, tuple[float, str]] = {}
    for run in runs:
        first, last = theirs.words[run[0]], theirs.words[run[-1]]
        phrase = " ".join(their_text[first.start:last.end].split())
        weight = sum(rarity.get(term, 0.0) for term in dict.fromkeys(hit[p] for p in run))
        key = phrase.lower()
        if key not in scored or weight > scored[key][0]:
            scored[key] = (weight, phrase)
    ranked = sorted(scored.items(), key=lambda item: (-item[1][0], item[0]))
    return tuple(phrase for _, (_, phrase) in ranked[:_PHRASES])


Explanation = tuple[tuple[Reason, ...], tuple[Reason, ...]]


def explain(me: Side, them: Side, phrases: tuple[str, ...], points: dict[str, float],
            lost: dict[str, float], every_mode: tuple[str, ...]) -> Explanation:
    """(fits, does_not_fit) for `me` looking at `them`."""
    pairs = [_set_reasons(kind, me, them) for kind in SET_KINDS]
    pairs += [_primary_reasons(me, them), _availability_reasons(me, them), _language_reasons(me, them),
              _country_reasons(me, them), _mode_reasons(me, them, every_mode)]
    if phrases:
        quoted = [f"“{p}”" for p in phrases]
        pairs.append((Reason("text", f"Both descriptions mention {words(quoted)}.", phrases), None))
    fits = [fit for fit, _ in pairs if fit is not None]
    misfits = [misfit for _, misfit in pairs if misfit is not None]
    fits.sort(key=lambda r: -points.get(r.kind, 0.0))
    misfits.sort(key=lambda r: -lost.get(r.kind, 0.0))
    return tuple(fits), tuple(misfits)
