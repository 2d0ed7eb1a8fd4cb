"""In-memory matching and search over registrations.

Every registration lives in a slot of a set of numpy columns (services.matching.columns: roles,
country, organisation type, capacity, visited flag, one bitmask per coded category, availability
windows as day ordinals) and of a TextIndex (services.matching.text). Slots freed by removals
are reused, arrays grow by doubling, so an upsert or removal costs O(size of one profile). A match
query scores every slot at once with numpy and explains the returned page only
(services.matching.explain).

The score (docs/domain.md, "What a match score means") is a sum of points, one share per factor,
0 to 100. Each factor has a value in [0, 1] for the pair (availability: [-1, 1]) and contributes
value x weight x 100 / (sum of weights) points; 100 means every factor fits fully:
  sectors, objectives, activity types   mean over both sides of |A and B| / |A| (coverage of A's wishes)
  primary sector                        mean over both sides of: 1 if my main (first) sector is your
                                        main one, 0.5 if it is one of your others, else 0
  country preference                    mean over both sides of "you are in one of my target countries"
  languages                             1 if a language is common, else 0
  mode                                  1 if a mode is acceptable to both, else 0
  availability                          common days / min(exchange_days, A's days, B's days), max 1;
                                        -1 when both gave dates and none is common (a penalty)
  text                                  cosine of the descriptions' terms / text_saturation, max 1
A side that states nothing (no sectors, no target countries, no windows, no text...) gets the
neutral value for its part. Every part is symmetric, so score(A, B) == score(B, A); the score is
floored at 0. Every input is the pair's own data (no corpus statistics), so the same two
registrations score the same whatever else is indexed, and in whichever order it arrived.

Not thread-safe: meant for one OS thread (eventlet green threads never preempt its methods).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, ClassVar, NamedTuple

import numpy as np

from services.matching import domain
from services.matching.columns import BitColumn, Codebook, Windows, grown, merged_windows
from services.matching.explain import FACTOR_LABELS, Reason, Side, explain, shared_phrases
from services.matching.language import Analysis
from services.matching.text import TextIndex

__all__ = ["HOST", "VISITOR", "Contribution", "Match", "MatchIndex", "Profile", "Reason", "SearchFilters",
           "Weights", "merged_windows"]

VISITOR = "visitor"
HOST = "host"
_ROLE_BIT = {VISITOR: 1, HOST: 2}
_SET_KINDS = ("sectors", "objectives", "activity_types")
_CODED = (*_SET_KINDS, "languages", "modes")
_MODES = ("physical", "virtual")
_MIN_CAPACITY = 1024
_ANALYSES_KEPT = 4096  # text analyses cached for explanations (a few MB)
RERANKED = 50       # search hits whose phrase proximity is checked
PHRASE_BONUS = 0.5  # relevance x (1 + this) when every consecutive pair of query words is adjacent

_Part = np.ndarray | float  # a factor's value per slot, or one value for all slots


@dataclass(frozen=True)
class Profile:
    registration_id: str
    version: int
    roles: frozenset[str]
    country: str
    organisation_type: str
    sectors: frozenset[str] = frozenset()
    objectives: frozenset[str] = frozenset()
    activity_types: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    modes: frozenset[str] = frozenset()
    target_countries: frozenset[str] = frozenset()
    availability: tuple[tuple[date, date], ...] = ()
    host_capacity: int = 1
    has_visited: bool = False
    text: str = ""
    primary_sector: str = ""  # the sector listed first; with a single sector, that one

    @property
    def main_sector(self) -> str:
        if self.primary_sector:
            return self.primary_sector
        return next(iter(self.sectors)) if len(self.sectors) == 1 else ""


@dataclass(frozen=True)
class Contribution:
    kind: str
    points: float      # what this factor adds to the score (negative for the availability penalty)
    max_points: float  # what it adds when it fits fully


@dataclass(frozen=True)
class Match:
    registration_id: str
    score: float  # 0-100, the sum of the contributions' points
    side: str
    fits: tuple[Reason, ...]
    does_not_fit: tuple[Reason, ...]
    contributions: tuple[Contribution, ...]

    def view(self) -> dict[str, Any]:
        """The match as the API shows it (services.matching.schemas.MatchSchema)."""
        def reasons(found: tuple[Reason, ...]) -> list[dict[str, Any]]:
            return [{"kind": r.kind, "detail": r.detail, "values": list(r.values)} for r in found]

        return {
            "registration_id": self.registration_id, "score": self.score, "side": self.side,
            "explanation": {"fits": reasons(self.fits), "does_not_fit": reasons(self.does_not_fit)},
            "contributions": [{"factor": c.kind, "label": FACTOR_LABELS[c.kind], "points": c.points,
                               "max_points": c.max_points} for c in self.contributions],
        }


@dataclass(frozen=True)
class SearchFilters:
    role: str | None = None
    country: str | None = None
    sector: str | None = None
    organisation_type: str | None = None
    activity_type: str | None = None
    language: str | None = None
    mode: str | None = None
    available_from: date | None = None
    available_to: date | None = None
    exclude_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Weights:
    """Each factor's share of the score (the defaults add up to 100 points), plus the components' tunables."""

    sectors: float = 16.0
    primary_sector: float = 10.0
    objectives: float = 6.0
    activity_types: float = 9.0
    availability: float = 20.0
    languages: float = 12.0
    country_preference: float = 10.0
    mode: float = 5.0
    text: float = 12.0
    neutral: float = 0.5          # factor value when a side states no preference
    exchange_days: float = 14.0   # common days that count as a full availability match
    text_saturation: float = 0.5  # cosine at which text similarity counts as full

    KINDS: ClassVar[tuple[str, ...]] = ("sectors", "primary_sector", "objectives", "activity_types",
                                        "availability", "languages", "country_preference", "mode", "text")

    def __post_init__(self) -> None:
        if any(getattr(self, kind) < 0 for kind in self.KINDS) or self.total() <= 0:
            raise ValueError("weights must be non-negative with a positive sum")
        if self.exchange_days < 1 or self.text_saturation <= 0:
            raise ValueError("exchange_days and text_saturation must be positive")

    def total(self) -> float:
        return sum(getattr(self, kind) for kind in self.KINDS)

    def points(self, kind: str) -> float:
        """What a factor adds to the score when it fits fully."""
        return self.full_points()[kind]

    def full_points(self) -> dict[str, float]:
        found = self.__dict__.get("_full_points")
        if found is None:
            total = self.total()
            found = {kind: 100.0 * getattr(self, kind) / total for kind in self.KINDS}
            object.__setattr__(self, "_full_points", found)
        return found

    @classmethod
    def names(cls) -> frozenset[str]:
        return frozenset(f.name for f in fields(cls))


class _Asker(NamedTuple):
    """The registration a page of matches is for, as each match's explanation needs it."""

    slot: int
    side: Side
    analysis: Analysis | None
    rarity: dict[str, float]  # IDF of each of its terms


def _at(part: _Part, slot: int) -> float:
    return float(part[slot]) if isinstance(part, np.ndarray) else float(part)


class MatchIndex:
    def __init__(self, weights: Weights | None = None, *, merge_min_docs: int = 1024) -> None:
        """merge_min_docs: text changes kept in the delta before a merge (at least 2 % of the documents)."""
        self.weights = weights or Weights()
        self._merge_min_docs = merge_min_docs
        self._reset(_MIN_CAPACITY)

    def _reset(self, capacity: int) -> None:
        self._capacity = capacity
        self._n = 0  # high-water mark: every live slot is below it
        self._free: list[int] = []
        self._slot_of: dict[str, int] = {}
        self._ids: list[str | None] = [None] * capacity
        self._texts: list[str] = [""] * capacity
        self._text_bytes = 0
        self._next_seq = 0
        self._alive = np.zeros(capacity, bool)
        self._roles = np.zeros(capacity, np.uint8)
        self._capacity_of = np.zeros(capacity, np.int32)
        self._visited = np.zeros(capacity, bool)
        self._version = np.zeros(capacity, np.int64)
        self._seq = np.zeros(capacity, np.int64)
        self._countries = Codebook()
        self._org_types = Codebook()
        self._country = np.zeros(capacity, np.int32)
        self._org_type = np.zeros(capacity, np.int32)
        self._primary_of = np.full(capacity, -1, np.int32)
        self._sets = {kind: BitColumn(Codebook(), capacity) for kind in _CODED}
        self._targets = BitColumn(self._countries, capacity)
        self._windows = Windows(capacity)
        self._text = TextIndex(merge_min_docs=self._merge_min_docs)
        self._analyses: dict[int, tuple[str, Analysis]] = {}
        self._text.grow(capacity)

    # ---- writes -------------------------------------------------------------------------------

    def bulk_load(self, profiles: Iterable[Profile]) -> None:
        latest: dict[str, Profile] = {}
        for profile in profiles:
            known = latest.get(profile.registration_id)
            if known is None or profile.version > known.version:
                latest[profile.registration_id] = profile
        ordered = list(latest.values())
        n = len(ordered)
        self._reset(max(_MIN_CAPACITY, 1 << math.ceil(math.log2(max(n, 1) * 1.25))))
        self._n = self._next_seq = n
        self._slot_of = {p.registration_id: slot for slot, p in enumerate(ordered)}
        self._ids[:n] = list(latest)
        self._texts[:n] = [p.text for p in ordered]
        self._text_bytes = sum(sys.getsizeof(t) for t in self._texts[:n])
        self._load_scalars(ordered)
        for kind, column in self._sets.items():
            masks = [column.mask_of(getattr(p, kind)) for p in ordered]
            column.set_many(masks)
        self._targets.set_many([self._targets.mask_of(p.target_countries) for p in ordered])
        self._windows.set_many([merged_windows(p.availability) for p in ordered])
        self._text.build(self._texts[:n], self._capacity)

    def _load_scalars(self, ordered: list[Profile]) -> None:
        n = len(ordered)
        self._alive[:n] = True
        self._seq[:n] = np.arange(n)
        self._version[:n] = [p.version for p in ordered]
        self._roles[:n] = [_roles_of(p) for p in ordered]
        self._capacity_of[:n] = [p.host_capacity for p in ordered]
        self._visited[:n] = [p.has_visited for p in ordered]
        self._country[:n] = [self._countries.add(p.country) for p in ordered]
        self._org_type[:n] = [self._org_types.add(p.organisation_type) for p in ordered]
        self._primary_of[:n] = [self._primary_code(p) for p in ordered]

    def upsert(self, profile: Profile) -> bool:
        """Insert or replace; False (and nothing changes) unless profile.version is newer than the stored one.

        An equal version counts as stale too, so a redelivered event cannot undo mark_visited or
        set_host_capacity applied since.
        """
        slot = self._slot_of.get(profile.registration_id)
        if slot is not None and profile.version <= self._version[slot]:
            return False
        windows = merged_windows(profile.availability)  # before allocating: bad dates must not leave a slot
        if slot is None:
            slot = self._allocate(profile.registration_id)
        self._write(slot, profile, windows)
        return True

    def _allocate(self, registration_id: str) -> int:
        if self._free:
            slot = self._free.pop()
        else:
            if self._n == self._capacity:
                self._grow(self._capacity * 2)
            slot = self._n
            self._n += 1
        self._slot_of[registration_id] = slot
        self._ids[slot] = registration_id
        self._seq[slot] = self._next_seq
        self._next_seq += 1
        return slot

    def _write(self, slot: int, profile: Profile, windows: list[tuple[int, int]]) -> None:
        self._alive[slot] = True
        self._version[slot] = profile.version
        self._roles[slot] = _roles_of(profile)
        self._capacity_of[slot] = profile.host_capacity
        self._visited[slot] = profile.has_visited
        self._country[slot] = self._countries.add(profile.country)
        self._org_type[slot] = self._org_types.add(profile.organisation_type)
        for kind, column in self._sets.items():
            column.set(slot, getattr(profile, kind))
        self._primary_of[slot] = self._primary_code(profile)
        self._targets.set(slot, profile.target_countries)
        self._windows.set(slot, windows)
        old_text = self._texts[slot]
        if not self._text.live[slot]:
            self._text.add(slot, profile.text)
        elif old_text != profile.text:
            self._text.remove(slot)
            self._text.add(slot, profile.text)
            self._text_bytes -= sys.getsizeof(old_text)
        else:
            return
        self._text_bytes += sys.getsizeof(profile.text)
        self._texts[slot] = profile.text

    def _primary_code(self, profile: Profile) -> int:
        main = profile.main_sector
        return self._sets["sectors"].codebook.add(main) if main else -1

    def _grow(self, capacity: int) -> None:
        for name in ("_alive", "_roles", "_capacity_of", "_visited", "_version", "_seq", "_country",
                     "_org_type"):
            setattr(self, name, grown(getattr(self, name), capacity))
        self._primary_of = grown(self._primary_of, capacity, fill=-1)
        for column in (*self._sets.values(), self._targets):
            column.grow(capacity)
        self._windows.grow(capacity)
        self._text.grow(capacity)
        self._ids.extend([None] * (capacity - self._capacity))
        self._texts.extend([""] * (capacity - self._capacity))
        self._capacity = capacity

    def remove(self, registration_id: str) -> bool:
        slot = self._slot_of.pop(registration_id, None)
        if slot is None:
            return False
        self._text.remove(slot)
        self._text_bytes -= sys.getsizeof(self._texts[slot])
        self._texts[slot] = ""
        self._ids[slot] = None
        self._alive[slot] = False
        self._roles[slot] = 0
        self._version[slot] = 0
        self._primary_of[slot] = -1
        self._windows.set(slot, [])
        self._free.append(slot)
        return True

    def mark_visited(self, registration_id: str, visited: bool = True) -> None:
        """The visitor has an exchange: not proposed as a visitor again (False when its only
        exchange was cancelled). Unknown ids are ignored."""
        slot = self._slot_of.get(registration_id)
        if slot is not None:
            self._visited[slot] = visited

    def set_host_capacity(self, registration_id: str, capacity: int) -> None:
        """Remaining hosting capacity; at 0 or below the host is not proposed. Unknown ids are ignored."""
        slot = self._slot_of.get(registration_id)
        if slot is not None:
            self._capacity_of[slot] = capacity

    def compact(self) -> None:
        """Merge pending text changes now (otherwise done automatically when they pile up)."""
        self._text.merge()

    # ---- reads --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, registration_id: object) -> bool:
        return registration_id in self._slot_of

    def matches(self, registration_id: str, limit: int = 20, offset: int = 0) -> list[Match]:
        """The best counterparts of a registration, best score first (KeyError if unknown)."""
        return self.match_page(registration_id, offset, limit)[0]

    def match_page(self, registration_id: str, offset: int, limit: int) -> tuple[list[Match], int]:
        """One page of matches, and how many counterparts there are in all."""
        me = self._slot_of[registration_id]
        n = self._n
        hosts, visitors = self._eligible(me, n)
        candidates = np.flatnonzero(hosts | visitors)
        offset = max(offset, 0)
        if limit <= 0 or offset >= len(candidates):
            return [], len(candidates)
        parts = self._factors(me, n)
        scores = self._points(parts, n)[candidates]
        best = self._top(candidates, scores, offset + limit)[offset:]
        asker = self._asker(me)
        return [self._match(asker, slot, parts, HOST if hosts[slot] else VISITOR) for slot, _ in best], \
            len(candidates)

    def score(self, registration_id: str, other_id: str) -> Match:
        """The score and explanation of one pair, whatever the hard rules say (KeyError if unknown)."""
        me, other = self._slot_of[registration_id], self._slot_of[other_id]
        parts = self._factors(me, self._n)
        side = HOST if self._roles[other] & _ROLE_BIT[HOST] else VISITOR
        return self._match(self._asker(me), other, parts, side)

    def _eligible(self, me: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Slots that could host me and slots that could visit me, under the hard rules
        (services.matching.domain)."""
        roles = self._roles[:n]
        hosting = domain.may_host((roles & _ROLE_BIT[HOST]) != 0, self._capacity_of[:n])
        visiting = domain.may_visit((roles & _ROLE_BIT[VISITOR]) != 0, self._visited[:n])
        hosts, visitors = domain.counterparts(self._country[me], bool(hosting[me]), bool(visiting[me]),
                                              self._country[:n], hosting, visiting, self._alive[:n])
        hosts[me] = visitors[me] = False
        return hosts, visitors

    def _factors(self, me: int, n: int) -> dict[str, _Part]:
        """Per factor, its value for (me, slot) for every slot below n, in Weights.KINDS order."""
        parts = {kind: self._coverage(kind, me, n) for kind in _SET_KINDS}
        return {
            "sectors": parts["sectors"], "primary_sector": self._primary(me, n),
            "objectives": parts["objectives"], "activity_types": parts["activity_types"],
            "availability": self._availability(me, n), "languages": self._languages(me, n),
            "country_preference": self._country_preference(me, n), "mode": self._mode(me, n),
            "text": self._text_fit(me, n),
        }

    def _points(self, parts: dict[str, _Part], n: int) -> np.ndarray:
        """The score of every slot below n: the factors' points, added in a fixed order (float32)."""
        total = np.zeros(n, np.float32)
        for kind in Weights.KINDS:
            total += np.float32(self.weights.points(kind)) * parts[kind]
        return np.maximum(total, np.float32(0.0))

    def _analysis(self, slot: int) -> Analysis | None:
        """The analysis of the text in slot, from a small cache: the same hosts come up in many
        pages, and analysing a description is most of what explaining a match costs."""
        text = self._texts[slot]
        if not text:
            return None
        cached = self._analyses.pop(slot, None)
        if cached is None or cached[0] is not text:
            cached = (text, self._text.analyse(text, slot))
        self._analyses[slot] = cached  # most recently used last
        if len(self._analyses) > _ANALYSES_KEPT:
            del self._analyses[next(iter(self._analyses))]
        return cached[1]

    def _asker(self, me: int) -> _Asker:
        analysis = self._analysis(me)
        rarity = self._text.rarity(sorted(analysis.term_set)) if analysis is not None else {}
        return _Asker(me, self._side(me), analysis, rarity)

    def _match(self, asker: _Asker, slot: int, parts: dict[str, _Part], side: str) -> Match:
        contributions = tuple(
            Contribution(kind, round(self.weights.points(kind) * _at(parts[kind], slot), 1),
                         round(self.weights.points(kind), 1))
            for kind in Weights.KINDS)
        score = max(round(sum(c.points for c in contributions), 1), 0.0)
        points = {c.kind: c.points for c in contributions}
        lost = {c.kind: c.max_points - c.points for c in contributions}
        phrases: tuple[str, ...] = ()
        if asker.analysis is not None and self._text.share_terms(asker.slot, slot):
            theirs = self._analysis(slot)
            if theirs is not None:
                phrases = shared_phrases(asker.analysis, theirs, self._texts[slot], asker.rarity)
        fits, misfits = explain(asker.side, self._side(slot), phrases, points, lost, _MODES)
        return Match(self._ids[slot], score, side, fits, misfits, contributions)

    def _neutral(self) -> np.float32:
        return np.float32(self.weights.neutral)

    def _coverage(self, kind: str, me: int, n: int) -> np.ndarray:
        """Mean over both sides of the share of one's codes the other has (neutral for a side with none)."""
        column = self._sets[kind]
        common = column.common(column.get(me), n).astype(np.float32)
        count = column.count[:n]
        theirs = np.where(count > 0, common / np.maximum(count, 1), self._neutral())
        mine_count = int(column.count[me])
        mine = common / np.float32(mine_count) if mine_count else self._neutral()
        return (mine + theirs) * np.float32(0.5)

    def _primary(self, me: int, n: int) -> np.ndarray:
        """Mean over both sides of: 1 if my main sector is your main sector, 0.5 if it is one of
        your other sectors, else 0 (neutral for a side with no main sector)."""
        sectors = self._sets["sectors"]
        my_primary = int(self._primary_of[me])
        primaries = self._primary_of[:n]
        known = primaries >= 0
        if my_primary >= 0:
            same = (primaries == my_primary).astype(np.float32)
            listed = sectors.contains(sectors.codebook.codes[my_primary], n).astype(np.float32)
            mine: _Part = np.maximum(same, listed * np.float32(0.5))
        else:
            mine = self._neutral()
        my_mask = sectors.get(me)
        codes = range(len(sectors.codebook.codes))
        in_mine = np.array([(my_mask >> c) & 1 for c in codes] or [0], np.float32) * np.float32(0.5)
        same = (primaries == my_primary).astype(np.float32)  # never true where unknown (-1): masked
        theirs = np.where(known, np.maximum(in_mine[np.maximum(primaries, 0)], same), self._neutral())
        return (mine + theirs) * np.float32(0.5)

    def _country_preference(self, me: int, n: int) -> np.ndarray:
        my_targets = self._targets.get(me)
        if my_targets:
            wanted = np.array([(my_targets >> c) & 1 for c in range(len(self._countries.codes))], np.float32)
            mine: _Part = wanted[self._country[:n]]
        else:
            mine = self._neutral()
        my_country = self._countries.codes[self._country[me]]
        wants_me = self._targets.contains(my_country, n).astype(np.float32)
        theirs = np.where(self._targets.count[:n] > 0, wants_me, self._neutral())
        return (mine + theirs) * np.float32(0.5)

    def _languages(self, me: int, n: int) -> _Part:
        column = self._sets["languages"]
        if not column.count[me]:
            return self.weights.neutral
        common = (column.common(column.get(me), n) > 0).astype(np.float32)
        return np.where(column.count[:n] > 0, common, self._neutral())

    def _mode(self, me: int, n: int) -> _Part:
        column = self._sets["modes"]
        mine = column.get(me)
        if not mine:
            return 1.0
        return ((column.common(mine, n) > 0) | (column.count[:n] == 0)).astype(np.float32)

    def _availability(self, me: int, n: int) -> _Part:
        """Common days over what an exchange needs, max 1; -1 when both gave dates and share none."""
        mine = self._windows.get(me)
        if not mine:
            return self.weights.neutral
        common = self._windows.common_days(mine, n).astype(np.float32)
        theirs = self._windows.days[:n]
        enough = min(self.weights.exchange_days, int(self._windows.days[me]))
        needed = np.maximum(np.minimum(theirs, enough), 1)
        fit = np.where(common > 0, np.minimum(common / needed.astype(np.float32), np.float32(1.0)),
                       np.float32(-1.0))
        return np.where(theirs > 0, fit, self._neutral())

    def _text_fit(self, me: int, n: int) -> _Part:
        similarity = self._text.similarity(me, n)
        if similarity is None:
            return self.weights.neutral
        fit = np.minimum(similarity / np.float32(self.weights.text_saturation), np.float32(1.0))
        return np.where(self._text.inv_norm[:n] > 0, fit, self._neutral())

    def _top(self, slots: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k best (slot, score), ties broken by registration id."""
        if len(slots) > k:
            kth = np.partition(scores, len(scores) - k)[len(scores) - k]
            keep = scores >= kth
            slots, scores = slots[keep], scores[keep]
        ranked = sorted(zip(slots.tolist(), scores.tolist(), strict=True),
                        key=lambda item: (-item[1], self._ids[item[0]]))
        return ranked[:k]

    def _side(self, slot: int) -> Side:
        sectors = self._sets["sectors"]
        primary = int(self._primary_of[slot])
        return Side({kind: tuple(column.decode(column.get(slot))) for kind, column in self._sets.items()},
                    sectors.codebook.codes[primary] if primary >= 0 else "",
                    self._countries.codes[self._country[slot]],
                    tuple(self._targets.decode(self._targets.get(slot))), self._windows.get(slot))


    # ---- search -------------------------------------------------------------------------------

    def search(self, text: str | None, filters: SearchFilters, offset: int = 0,
               limit: int = 20) -> tuple[list[tuple[str, float]], int]:
        """One page of (registration_id, relevance) and the number of hits.

        With text (anything but blank): BM25 relevance (raised for the query's words side by side),
        hits are documents with at least one query word. Without: every registration passing the
        filters, in insertion order, relevance 0.
        """
        n = self._n
        offset, limit = max(offset, 0), max(limit, 0)
        wanted = self._filter(filters, n)
        if text is None or not text.strip():
            hits = np.flatnonzero(wanted)
            return self._page_in_order(hits, offset, limit), len(hits)
        query = self._text.query_terms(text)
        scores = self._text.bm25(query, n)
        hits = np.flatnonzero(wanted & (scores > 0))
        if offset + limit == 0 or offset >= len(hits):
            return [], len(hits)
        best = self._top(hits, scores[hits], max(offset + limit, RERANKED))
        reranked = self._with_proximity(query, best[:RERANKED]) + best[RERANKED:]
        return [(self._ids[slot], score) for slot, score in reranked[offset:offset + limit]], len(hits)

    def _with_proximity(self, query: list[set[str]],
                        best: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """The best BM25 hits, their relevance raised by up to PHRASE_BONUS when the query's words sit
        next to each other (in any order). Always the same RERANKED hits, whatever the page, so
        pages never overlap."""
        if len(query) < 2:
            return best
        boosted = [(slot, score * (1.0 + PHRASE_BONUS * self._text.proximity(query, self._texts[slot], slot)))
                   for slot, score in best]
        return sorted(boosted, key=lambda item: (-item[1], self._ids[item[0]]))

    def _page_in_order(self, hits: np.ndarray, offset: int, limit: int) -> list[tuple[str, float]]:
        end = offset + limit
        if offset >= len(hits) or limit == 0:
            return []
        if end < len(hits):
            hits = hits[np.argpartition(self._seq[hits], end - 1)[:end]]
        page = hits[np.argsort(self._seq[hits], kind="stable")][offset:end]
        return [(self._ids[slot], 0.0) for slot in page.tolist()]

    def _filter(self, filters: SearchFilters, n: int) -> np.ndarray:
        wanted = self._alive[:n].copy()
        if filters.role is not None:
            wanted &= (self._roles[:n] & _ROLE_BIT.get(filters.role, 0)) != 0
        for value, codebook, column in ((filters.country, self._countries, self._country),
                                        (filters.organisation_type, self._org_types, self._org_type)):
            if value is not None:
                code = codebook.get(value)
                wanted &= column[:n] == (-1 if code is None else code)
        for value, kind in ((filters.sector, "sectors"), (filters.activity_type, "activity_types"),
                            (filters.language, "languages")):
            if value is not None:
                wanted &= self._sets[kind].contains(value, n)
        if filters.mode is not None:
            modes = self._sets["modes"]
            wanted &= modes.contains(filters.mode, n) | (modes.count[:n] == 0)
        if filters.available_from is not None or filters.available_to is not None:
            lo = filters.available_from.toordinal() if filters.available_from else 1
            hi = filters.available_to.toordinal() if filters.available_to else date.max.toordinal()
            wanted &= self._windows.overlapping(lo, hi, n)
        for registration_id in filters.exclude_ids:
            slot = self._slot_of.get(registration_id)
            if slot is not None and slot < n:
                wanted[slot] = False
        return wanted

    # ---- accounting ---------------------------------------------------------------------------

    def memory_bytes(self) -> int:
        """numpy columns + text index + Python-side ids, texts and dictionaries (capacity, not just size)."""
        arrays = (self._alive, self._roles, self._capacity_of, self._visited, self._version, self._seq,
                  self._country, self._org_type, self._primary_of)
        total = sum(a.nbytes for a in arrays)
        total += sum(c.nbytes() for c in (*self._sets.values(), self._targets)) + self._windows.nbytes()
        total += sum(c.codebook.nbytes() for c in self._sets.values())
        total += self._countries.nbytes() + self._org_types.nbytes()
        total += self._text.memory_bytes() + self._text_bytes
        total += sys.getsizeof(self._ids) + sys.getsizeof(self._texts) + sys.getsizeof(self._free)
        total += sys.getsizeof(self._slot_of) + sum(sys.getsizeof(r) for r in self._slot_of)
        return total

    @property
    def text_merges(self) -> int:
        return self._text.merges

    @property
    def pending_text_changes(self) -> int:
        return self._text.delta_size


def _roles_of(profile: Profile) -> int:
    return sum(bit for role, bit in _ROLE_BIT.items() if role in profile.roles)

