"""In-memory matching and search over registrations.

Every registration lives in a slot of a set of numpy columns (roles, country, organisation type,
capacity, visited flag, one bitmask per coded category, availability windows as day ordinals) and
of a TextIndex (services.matching.text). Slots freed by removals are reused, arrays grow by
doubling, so an upsert or removal costs O(size of one profile). A match query scores every slot
at once with numpy and builds explanations for the returned top-k only.

Scoring. For a pair (A, B), fit(A->B) says how well B meets A's wishes and fit(B->A) the
converse; each is a weighted mean of components in [0, 1]:
  sectors, objectives, activity types   |A and B| / |A|  (directional coverage of A's wishes)
  country preference                    1 if B's country is one of A's targets, 0 if not
  languages                             1 if a language is common, else 0
  mode                                  1 if a mode is acceptable to both, else 0
  availability                          common days / min(exchange_days, A's days, B's days), max 1
  text                                  cosine of log-TF x IDF vectors / text_saturation, max 1
A side that states nothing (no sectors, no target countries, no windows, no text...) gets the
neutral value for that component. The match score is the geometric mean of both fits, so a
one-sided fit scores lower than a mutual one and score(A, B) == score(B, A).

Not thread-safe: meant for one OS thread (eventlet green threads never preempt its methods).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

import numpy as np

from common.reference import label
from services.matching import domain
from services.matching.text import TextIndex

VISITOR = "visitor"
HOST = "host"
_ROLE_BIT = {VISITOR: 1, HOST: 2}
_SET_KINDS = ("sectors", "objectives", "activity_types")
_CODED = (*_SET_KINDS, "languages", "modes")
_WORD = 64
_WORD_MASK = (1 << _WORD) - 1
_MIN_CAPACITY = 1024
_INLINE_WINDOWS = 3  # windows kept in columns per slot; more go to a per-slot overflow (rare)

_Part = np.ndarray | float  # a fit per slot, or one value for all slots


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


@dataclass(frozen=True)
class Reason:
    kind: str
    detail: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    registration_id: str
    score: float
    side: str
    reasons: tuple[Reason, ...]


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
    """Weight of each reason kind in a direction's fit, plus the tunables of the components."""

    sectors: float = 3.0
    objectives: float = 1.5
    activity_types: float = 1.5
    availability: float = 2.0
    languages: float = 2.0
    country_preference: float = 1.5
    mode: float = 1.0
    text: float = 2.0
    neutral: float = 0.5          # component value when a side states no preference
    exchange_days: float = 14.0   # common days that count as a full availability match
    text_saturation: float = 0.5  # cosine at which text similarity counts as full

    KINDS: ClassVar[tuple[str, ...]] = ("sectors", "objectives", "activity_types", "availability",
                                        "languages", "country_preference", "mode", "text")

    def __post_init__(self) -> None:
        if any(getattr(self, kind) < 0 for kind in self.KINDS) or self.total() <= 0:
            raise ValueError("weights must be non-negative with a positive sum")
        if self.exchange_days < 1 or self.text_saturation <= 0:
            raise ValueError("exchange_days and text_saturation must be positive")

    def total(self) -> float:
        return sum(getattr(self, kind) for kind in self.KINDS)


# ---- columns --------------------------------------------------------------------------------------


class _Codebook:
    """Code -> dense id, assigned on first sight, so unseen codes need no schema change."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self.codes: list[str] = []

    def add(self, code: str) -> int:
        found = self._ids.get(code)
        if found is None:
            found = self._ids[code] = len(self.codes)
            self.codes.append(code)
        return found

    def get(self, code: str) -> int | None:
        return self._ids.get(code)

    def nbytes(self) -> int:
        strings = sum(sys.getsizeof(c) for c in self.codes)
        return sys.getsizeof(self._ids) + sys.getsizeof(self.codes) + strings


class _BitColumn:
    """A set of codes per slot as a bitmask, one uint64 array per 64 codes seen."""

    def __init__(self, codebook: _Codebook, capacity: int) -> None:
        self.codebook = codebook
        self.words = [np.zeros(capacity, np.uint64)]
        self.count = np.zeros(capacity, np.uint16)

    def grow(self, capacity: int) -> None:
        self.words = [_grown(w, capacity) for w in self.words]
        self.count = _grown(self.count, capacity)

    def mask_of(self, codes: Iterable[str], add: bool = True) -> int:
        mask = 0
        for code in codes:
            bit = self.codebook.add(code) if add else self.codebook.get(code)
            if bit is not None:
                mask |= 1 << bit
        while mask.bit_length() > _WORD * len(self.words):
            self.words.append(np.zeros(len(self.count), np.uint64))
        return mask

    def split(self, mask: int) -> list[np.uint64]:
        return [np.uint64((mask >> (_WORD * w)) & _WORD_MASK) for w in range(len(self.words))]

    def set(self, slot: int, codes: Iterable[str]) -> None:
        mask = self.mask_of(codes)
        for column, word in zip(self.words, self.split(mask), strict=True):
            column[slot] = word
        self.count[slot] = mask.bit_count()

    def set_many(self, masks: list[int]) -> None:
        """Slots 0..len(masks)-1, from masks made by mask_of."""
        n = len(masks)
        for w, column in enumerate(self.words):
            shift = _WORD * w
            column[:n] = np.fromiter(((m >> shift) & _WORD_MASK for m in masks), np.uint64, n)
        self.count[:n] = np.fromiter((m.bit_count() for m in masks), np.uint16, n)

    def get(self, slot: int) -> int:
        return sum(int(column[slot]) << (_WORD * w) for w, column in enumerate(self.words))

    def decode(self, mask: int) -> list[str]:
        codes = []
        while mask:
            low = mask & -mask
            codes.append(self.codebook.codes[low.bit_length() - 1])
            mask ^= low
        return sorted(codes)

    def common(self, mask: int, n: int) -> np.ndarray:
        """Number of codes each slot below n shares with mask."""
        total = np.zeros(n, np.uint8)
        for column, word in zip(self.words, self.split(mask), strict=True):
            if word:
                total += np.bitwise_count(column[:n] & word)
        return total

    def contains(self, code: str, n: int) -> np.ndarray:
        bit = self.codebook.get(code)
        if bit is None or bit >= _WORD * len(self.words):
            return np.zeros(n, bool)
        return (self.words[bit // _WORD][:n] & np.uint64(1 << (bit % _WORD))) != 0

    def nbytes(self) -> int:
        return sum(w.nbytes for w in self.words) + self.count.nbytes


class _Windows:
    """Availability as merged inclusive [start, end] day ordinals; padding is (0, -1), an empty window.

    Stored window-major, shape (windows, capacity), so each window index is one contiguous array.
    """

    def __init__(self, capacity: int) -> None:
        self.start = np.zeros((_INLINE_WINDOWS, capacity), np.int32)
        self.end = np.full((_INLINE_WINDOWS, capacity), -1, np.int32)
        self.days = np.zeros(capacity, np.int32)
        self.overflow: dict[int, list[tuple[int, int]]] = {}

    def grow(self, capacity: int) -> None:
        self.start = _grown(self.start.T, capacity).T.copy()
        self.end = _grown(self.end.T, capacity, fill=-1).T.copy()
        self.days = _grown(self.days, capacity)

    def set(self, slot: int, windows: list[tuple[int, int]]) -> None:
        self.start[:, slot], self.end[:, slot] = 0, -1
        for k, (start, end) in enumerate(windows[:_INLINE_WINDOWS]):
            self.start[k, slot], self.end[k, slot] = start, end
        self.overflow.pop(slot, None)
        if len(windows) > _INLINE_WINDOWS:
            self.overflow[slot] = windows[_INLINE_WINDOWS:]
        self.days[slot] = sum(end - start + 1 for start, end in windows)

    def set_many(self, all_windows: list[list[tuple[int, int]]]) -> None:
        """Slots 0..len(all_windows)-1."""
        n = len(all_windows)
        for k in range(_INLINE_WINDOWS):
            self.start[k, :n] = [w[k][0] if len(w) > k else 0 for w in all_windows]
            self.end[k, :n] = [w[k][1] if len(w) > k else -1 for w in all_windows]
        self.days[:n] = [sum(end - start + 1 for start, end in w) for w in all_windows]
        self.overflow = {slot: w[_INLINE_WINDOWS:] for slot, w in enumerate(all_windows)
                         if len(w) > _INLINE_WINDOWS}

    def get(self, slot: int) -> list[tuple[int, int]]:
        pairs = zip(self.start[:, slot].tolist(), self.end[:, slot].tolist(), strict=True)
        return [(s, e) for s, e in pairs if e >= s] + self.overflow.get(slot, [])

    def common_days(self, windows: list[tuple[int, int]], n: int) -> np.ndarray:
        """Days each slot below n shares with the (merged) windows, via a prefix count over their span."""
        lo, hi = windows[0][0], windows[-1][1]
        span = hi - lo + 1
        available = np.zeros(span, np.int32)
        for start, end in windows:
            available[start - lo: end - lo + 1] = 1
        prefix = np.zeros(span + 1, np.int32)
        np.cumsum(available, out=prefix[1:])
        days = np.zeros(n, np.int32)
        for k in range(_INLINE_WINDOWS):
            first = np.clip(self.start[k, :n] - lo, 0, span)
            past = np.clip(self.end[k, :n] - (lo - 1), 0, span)
            days += prefix[past]
            days -= prefix[first]
        for slot, extra in self.overflow.items():
            if slot < n:
                for start, end in extra:
                    first_day, past_day = (min(max(day, 0), span) for day in (start - lo, end - lo + 1))
                    days[slot] += prefix[past_day] - prefix[first_day]
        return days

    def overlapping(self, lo: int, hi: int, n: int) -> np.ndarray:
        """Slots below n with a window intersecting [lo, hi]."""
        hit = np.zeros(n, bool)
        for k in range(_INLINE_WINDOWS):
            hit |= (self.start[k, :n] <= hi) & (self.end[k, :n] >= lo)
        for slot, extra in self.overflow.items():
            if slot < n and any(start <= hi and end >= lo for start, end in extra):
                hit[slot] = True
        return hit

    def nbytes(self) -> int:
        return self.start.nbytes + self.end.nbytes + self.days.nbytes + 200 * len(self.overflow)


def _at(part: _Part, slot: int) -> float:
    return float(part[slot]) if isinstance(part, np.ndarray) else float(part)


def _grown(array: np.ndarray, capacity: int, fill: int = 0) -> np.ndarray:
    new = np.full((capacity, *array.shape[1:]), fill, array.dtype)
    new[: len(array)] = array
    return new


def _merged_windows(availability: Iterable[tuple[date, date]]) -> list[tuple[int, int]]:
    spans = sorted((s.toordinal(), e.toordinal()) for s, e in availability if e >= s)
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


# ---- explanations ---------------------------------------------------------------------------------


def _words(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _labels(kind: str, codes: Iterable[str]) -> list[str]:
    """Reasons are read by people: the reference data's labels (the codes stay in `values`)."""
    return [label(kind, code) for code in codes]


def _iso(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def _common_windows(mine: list[tuple[int, int]], theirs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    common = []
    for a_start, a_end in mine:
        for b_start, b_end in theirs:
            start, end = max(a_start, b_start), min(a_end, b_end)
            if start <= end:
                common.append((start, end))
    return sorted(common)


@dataclass
class _Side:
    """What the explanation of one registration needs, decoded from the columns."""

    sets: dict[str, int]
    country: str
    targets: frozenset[str]
    windows: list[tuple[int, int]]


# ---- the index ------------------------------------------------------------------------------------


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
        self._countries = _Codebook()
        self._org_types = _Codebook()
        self._country = np.zeros(capacity, np.int32)
        self._org_type = np.zeros(capacity, np.int32)
        self._sets = {kind: _BitColumn(_Codebook(), capacity) for kind in _CODED}
        self._targets = _BitColumn(self._countries, capacity)
        self._windows = _Windows(capacity)
        self._text = TextIndex(merge_min_docs=self._merge_min_docs)
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
        self._windows.set_many([_merged_windows(p.availability) for p in ordered])
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

    def upsert(self, profile: Profile) -> bool:
        """Insert or replace; False (and nothing changes) unless profile.version is newer than the stored one.

        An equal version counts as stale too, so a redelivered event cannot undo mark_visited or
        set_host_capacity applied since.
        """
        slot = self._slot_of.get(profile.registration_id)
        if slot is not None and profile.version <= self._version[slot]:
            return False
        windows = _merged_windows(profile.availability)  # before allocating: bad dates must not leave a slot
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
        self._targets.set(slot, profile.target_countries)
        self._windows.set(slot, windows)
        old_text = self._texts[slot]
        if not self._text.live[slot]:
            self._text.add(slot, profile.text)
        elif old_text != profile.text:
            self._text.remove(slot, old_text)
            self._text.add(slot, profile.text)
            self._text_bytes -= sys.getsizeof(old_text)
        else:
            return
        self._text_bytes += sys.getsizeof(profile.text)
        self._texts[slot] = profile.text

    def _grow(self, capacity: int) -> None:
        for name in ("_alive", "_roles", "_capacity_of", "_visited", "_version", "_seq", "_country",
                     "_org_type"):
            setattr(self, name, _grown(getattr(self, name), capacity))
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
        self._text.remove(slot, self._texts[slot])
        self._text_bytes -= sys.getsizeof(self._texts[slot])
        self._texts[slot] = ""
        self._ids[slot] = None
        self._alive[slot] = False
        self._roles[slot] = 0
        self._version[slot] = 0
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
        """The best counterparts of a registration, mutual score first (KeyError if unknown)."""
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
        parts = self._components(me, n)
        forward, backward = self._fits(parts, n)
        scores = np.sqrt(forward[candidates] * backward[candidates]) / self.weights.total()
        best = self._top(candidates, scores, offset + limit)[offset:]
        mine = self._side(me)
        texts = self._text.shared_terms(self._texts[me], [self._texts[slot] for slot, _ in best])
        return [
            Match(self._ids[slot], round(score, 6), HOST if hosts[slot] else VISITOR,
                  self._reasons(mine, self._side(slot), shared, self._contributions(parts, slot)))
            for (slot, score), shared in zip(best, texts, strict=True)
        ], len(candidates)

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

    def _components(self, me: int, n: int) -> dict[str, tuple[_Part, _Part]]:
        """Per reason kind, fit(me -> slot) and fit(slot -> me) for every slot below n, each in [0, 1]."""
        parts = {kind: self._coverage(kind, me, n) for kind in _SET_KINDS}
        parts["country_preference"] = self._country_preference(me, n)
        for kind, both in (("languages", self._languages(me, n)), ("mode", self._mode(me, n)),
                           ("availability", self._availability(me, n)), ("text", self._text_fit(me, n))):
            parts[kind] = (both, both)
        return parts

    def _fits(self, parts: dict[str, tuple[_Part, _Part]], n: int) -> tuple[np.ndarray, np.ndarray]:
        """Weighted sums of both directions' fits."""
        forward, backward, both = (np.zeros(n, np.float32) for _ in range(3))
        for kind, (mine, theirs) in parts.items():
            weight = getattr(self.weights, kind)
            if mine is theirs:
                both += weight * mine
            else:
                forward += weight * mine
                backward += weight * theirs
        return forward + both, backward + both

    def _contributions(self, parts: dict[str, tuple[_Part, _Part]], slot: int) -> dict[str, float]:
        """Weight x mean of both directions, per kind, for one candidate: orders its reasons."""
        return {kind: getattr(self.weights, kind) * (_at(mine, slot) + _at(theirs, slot)) / 2
                for kind, (mine, theirs) in parts.items()}

    def _coverage(self, kind: str, me: int, n: int) -> tuple[np.ndarray | float, np.ndarray]:
        column = self._sets[kind]
        common = column.common(column.get(me), n).astype(np.float32)
        count = column.count[:n]
        theirs = np.where(count > 0, common / np.maximum(count, 1), np.float32(self.weights.neutral))
        mine_count = int(column.count[me])
        return (common / mine_count if mine_count else self.weights.neutral), theirs

    def _country_preference(self, me: int, n: int) -> tuple[np.ndarray | float, np.ndarray]:
        neutral = self.weights.neutral
        my_targets = self._targets.get(me)
        if my_targets:
            wanted = np.array([(my_targets >> c) & 1 for c in range(len(self._countries.codes))], np.float32)
            mine: np.ndarray | float = wanted[self._country[:n]]
        else:
            mine = neutral
        my_country = self._countries.codes[self._country[me]]
        wants_me = self._targets.contains(my_country, n).astype(np.float32)
        return mine, np.where(self._targets.count[:n] > 0, wants_me, np.float32(neutral))

    def _languages(self, me: int, n: int) -> np.ndarray | float:
        column = self._sets["languages"]
        if not column.count[me]:
            return self.weights.neutral
        common = (column.common(column.get(me), n) > 0).astype(np.float32)
        return np.where(column.count[:n] > 0, common, np.float32(self.weights.neutral))

    def _mode(self, me: int, n: int) -> np.ndarray | float:
        column = self._sets["modes"]
        mine = column.get(me)
        if not mine:
            return 1.0
        return ((column.common(mine, n) > 0) | (column.count[:n] == 0)).astype(np.float32)

    def _availability(self, me: int, n: int) -> np.ndarray | float:
        mine = self._windows.get(me)
        if not mine:
            return self.weights.neutral
        common = self._windows.common_days(mine, n).astype(np.float32)
        theirs = self._windows.days[:n]
        enough = min(self.weights.exchange_days, int(self._windows.days[me]))
        needed = np.maximum(np.minimum(theirs, enough), 1)
        fit = np.minimum(common / needed.astype(np.float32), 1.0)
        return np.where(theirs > 0, fit, np.float32(self.weights.neutral))

    def _text_fit(self, me: int, n: int) -> np.ndarray | float:
        similarity = self._text.similarity(self._texts[me], n)
        if similarity is None:
            return self.weights.neutral
        fit = np.minimum(similarity / self.weights.text_saturation, 1.0)
        return np.where(self._text.inv_norm[:n] > 0, fit, np.float32(self.weights.neutral))

    def _top(self, slots: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k best (slot, score), ties broken by registration id."""
        if len(slots) > k:
            kth = np.partition(scores, len(scores) - k)[len(scores) - k]
            keep = scores >= kth
            slots, scores = slots[keep], scores[keep]
        ranked = sorted(zip(slots.tolist(), scores.tolist(), strict=True),
                        key=lambda item: (-item[1], self._ids[item[0]]))
        return ranked[:k]

    # ---- explanations -------------------------------------------------------------------------

    def _side(self, slot: int) -> _Side:
        targets = frozenset(self._targets.decode(self._targets.get(slot)))
        return _Side({kind: column.get(slot) for kind, column in self._sets.items()},
                     self._countries.codes[self._country[slot]], targets, self._windows.get(slot))

    def _reasons(self, me: _Side, them: _Side, shared_words: tuple[str, ...],
                 contributions: dict[str, float]) -> tuple[Reason, ...]:
        """What the two share, the kinds that weigh most in their score first."""
        found = [self._set_reason(kind, me, them) for kind in _SET_KINDS]
        found += [self._window_reason(me, them), self._language_reason(me, them),
                  self._country_reason(me, them), self._mode_reason(me, them)]
        if shared_words:
            found.append(Reason("text", f"Similar descriptions: {', '.join(shared_words)}.", shared_words))
        present = [reason for reason in found if reason is not None]
        return tuple(sorted(present, key=lambda reason: -contributions[reason.kind]))

    def _set_reason(self, kind: str, me: _Side, them: _Side) -> Reason | None:
        common = self._sets[kind].decode(me.sets[kind] & them.sets[kind])
        if not common:
            return None
        template = {"sectors": "Both work in {}.", "objectives": "Shared objectives: {}.",
                    "activity_types": "Both want {}."}[kind]
        words = _labels(kind, common)
        if kind == "activity_types":
            words = [word[:1].lower() + word[1:] for word in words]
        return Reason(kind, template.format(_words(words)), tuple(common))

    @staticmethod
    def _window_reason(me: _Side, them: _Side) -> Reason | None:
        common = _common_windows(me.windows, them.windows)
        if not common:
            return None
        days = sum(end - start + 1 for start, end in common)
        spans = [f"{_iso(s)} to {_iso(e)}" for s, e in common]
        values = tuple(_iso(v) for span in common for v in span)
        return Reason("availability", f"Both available {_words(spans)} ({days} days in common).", values)

    def _language_reason(self, me: _Side, them: _Side) -> Reason | None:
        common = self._sets["languages"].decode(me.sets["languages"] & them.sets["languages"])
        if not common:
            return None
        return Reason("languages", f"Common languages: {', '.join(_labels('languages', common))}.",
                      tuple(common))

    @staticmethod
    def _country_reason(me: _Side, them: _Side) -> Reason | None:
        parts, values = [], []
        if them.country in me.targets:
            parts.append(f"{label('countries', them.country)} is one of your target countries")
            values.append(them.country)
        if me.country in them.targets:
            parts.append(f"they look for partners from {label('countries', me.country)}")
            values.append(me.country)
        if not parts:
            return None
        detail = "; ".join(parts)
        return Reason("country_preference", detail[0].upper() + detail[1:] + ".", tuple(values))

    def _mode_reason(self, me: _Side, them: _Side) -> Reason | None:
        column = self._sets["modes"]
        everything = (1 << len(column.codebook.codes)) - 1
        common = column.decode((me.sets["modes"] or everything) & (them.sets["modes"] or everything))
        if not common:
            return None
        return Reason("mode", f"Both accept {' or '.join(common)} exchanges.", tuple(common))

    # ---- search -------------------------------------------------------------------------------

    def search(self, text: str | None, filters: SearchFilters, offset: int = 0,
               limit: int = 20) -> tuple[list[tuple[str, float]], int]:
        """One page of (registration_id, relevance) and the number of hits.

        With text (anything but blank): BM25 relevance, hits are documents with at least one query
        term. Without: every registration passing the filters, in insertion order, relevance 0.
        """
        n = self._n
        offset, limit = max(offset, 0), max(limit, 0)
        wanted = self._filter(filters, n)
        if text is None or not text.strip():
            hits = np.flatnonzero(wanted)
            return self._page_in_order(hits, offset, limit), len(hits)
        scores = self._text.bm25(text, n)
        hits = np.flatnonzero(wanted & (scores > 0))
        if offset + limit == 0 or offset >= len(hits):
            return [], len(hits)
        best = self._top(hits, scores[hits], offset + limit)[offset:]
        return [(self._ids[slot], score) for slot, score in best], len(hits)

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
                  self._country, self._org_type)
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

