"""Column primitives of the match index: coded sets as bitmasks, availability windows as day ordinals.

Every registration lives in a slot; each column holds one value per slot in a numpy array that
grows by doubling, so writing one profile costs O(its size) and a query reads whole columns.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import date

import numpy as np

_WORD = 64
_WORD_MASK = (1 << _WORD) - 1
INLINE_WINDOWS = 3  # windows kept in columns per slot; more go to a per-slot overflow (rare)
_PAIRWISE_WINDOWS = 6  # up to this many windows on the asking side, common days are summed pairwise


class Codebook:
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


class BitColumn:
    """A set of codes per slot as a bitmask, one uint64 array per 64 codes seen."""

    def __init__(self, codebook: Codebook, capacity: int) -> None:
        self.codebook = codebook
        self.words = [np.zeros(capacity, np.uint64)]
        self.count = np.zeros(capacity, np.uint16)

    def grow(self, capacity: int) -> None:
        self.words = [grown(w, capacity) for w in self.words]
        self.count = grown(self.count, capacity)

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


class Windows:
    """Availability as merged inclusive [start, end] day ordinals; padding is (0, -1), an empty window.

    Stored window-major, shape (windows, capacity), so each window index is one contiguous array.
    """

    def __init__(self, capacity: int) -> None:
        self.start = np.zeros((INLINE_WINDOWS, capacity), np.int32)
        self.end = np.full((INLINE_WINDOWS, capacity), -1, np.int32)
        self.days = np.zeros(capacity, np.int32)
        self.overflow: dict[int, list[tuple[int, int]]] = {}

    def grow(self, capacity: int) -> None:
        self.start = grown(self.start.T, capacity).T.copy()
        self.end = grown(self.end.T, capacity, fill=-1).T.copy()
        self.days = grown(self.days, capacity)

    def set(self, slot: int, windows: list[tuple[int, int]]) -> None:
        self.start[:, slot], self.end[:, slot] = 0, -1
        for k, (start, end) in enumerate(windows[:INLINE_WINDOWS]):
            self.start[k, slot], self.end[k, slot] = start, end
        self.overflow.pop(slot, None)
        if len(windows) > INLINE_WINDOWS:
            self.overflow[slot] = windows[INLINE_WINDOWS:]
        self.days[slot] = sum(end - start + 1 for start, end in windows)

    def set_many(self, all_windows: list[list[tuple[int, int]]]) -> None:
        """Slots 0..len(all_windows)-1."""
        n = len(all_windows)
        for k in range(INLINE_WINDOWS):
            self.start[k, :n] = [w[k][0] if len(w) > k else 0 for w in all_windows]
            self.end[k, :n] = [w[k][1] if len(w) > k else -1 for w in all_windows]
        self.days[:n] = [sum(end - start + 1 for start, end in w) for w in all_windows]
        self.overflow = {slot: w[INLINE_WINDOWS:] for slot, w in enumerate(all_windows)
                         if len(w) > INLINE_WINDOWS}

    def get(self, slot: int) -> list[tuple[int, int]]:
        pairs = zip(self.start[:, slot].tolist(), self.end[:, slot].tolist(), strict=True)
        return [(s, e) for s, e in pairs if e >= s] + self.overflow.get(slot, [])

    def common_days(self, windows: list[tuple[int, int]], n: int) -> np.ndarray:
        """Days each slot below n shares with the (merged) windows."""
        if len(windows) > _PAIRWISE_WINDOWS:
            return self._common_days_by_prefix(windows, n)
        # Both sides' windows are disjoint, so the common days are the sum of pairwise overlaps:
        # a few contiguous min/max passes, cheaper than gathering from a prefix count.
        days = np.zeros(n, np.int32)
        overlap = np.empty(n, np.int32)
        for k in range(INLINE_WINDOWS):
            starts, ends = self.start[k, :n], self.end[k, :n]
            for start, end in windows:
                np.minimum(ends, end, out=overlap)
                overlap -= np.maximum(starts, start)
                overlap += 1
                days += np.maximum(overlap, 0, out=overlap)
        self._add_overflow(windows, days, n)
        return days

    def _add_overflow(self, windows: list[tuple[int, int]], days: np.ndarray, n: int) -> None:
        for slot, extra in self.overflow.items():
            if slot < n:
                days[slot] += sum(max(0, min(a_end, b_end) - max(a_start, b_start) + 1)
                                  for a_start, a_end in windows for b_start, b_end in extra)

    def _common_days_by_prefix(self, windows: list[tuple[int, int]], n: int) -> np.ndarray:
        """common_days via a prefix count over the windows' span (for many windows)."""
        lo, hi = windows[0][0], windows[-1][1]
        span = hi - lo + 1
        available = np.zeros(span, np.int32)
        for start, end in windows:
            available[start - lo: end - lo + 1] = 1
        prefix = np.zeros(span + 1, np.int32)
        np.cumsum(available, out=prefix[1:])
        days = np.zeros(n, np.int32)
        for k in range(INLINE_WINDOWS):
            first = np.clip(self.start[k, :n] - lo, 0, span)
            past = np.clip(self.end[k, :n] - (lo - 1), 0, span)
            days += prefix[past]
            days -= prefix[first]
        self._add_overflow(windows, days, n)
        return days

    def overlapping(self, lo: int, hi: int, n: int) -> np.ndarray:
        """Slots below n with a window intersecting [lo, hi]."""
        hit = np.zeros(n, bool)
        for k in range(INLINE_WINDOWS):
            hit |= (self.start[k, :n] <= hi) & (self.end[k, :n] >= lo)
        for slot, extra in self.overflow.items():
            if slot < n and any(start <= hi and end >= lo for start, end in extra):
                hit[slot] = True
        return hit

    def nbytes(self) -> int:
        return self.start.nbytes + self.end.nbytes + self.days.nbytes + 200 * len(self.overflow)


def grown(array: np.ndarray, capacity: int, fill: int = 0) -> np.ndarray:
    new = np.full((capacity, *array.shape[1:]), fill, array.dtype)
    new[: len(array)] = array
    return new


def merged_windows(availability: Iterable[tuple[date, date]]) -> list[tuple[int, int]]:
    spans = sorted((s.toordinal(), e.toordinal()) for s, e in availability if e >= s)
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
