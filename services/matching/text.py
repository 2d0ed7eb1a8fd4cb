"""Free text of the match index: hashed terms, BM25 for search, a fixed-weight cosine for matching.

Terms come from services.matching.language (stems in the text's language, lexicon concepts; no
function words, no domain filler). Documents live in slots (rows) chosen by the caller. Postings
are kept LSM-style: a main CSC matrix (one column per hashed term, sorted slots inside a column)
built in bulk, plus a small delta of documents added since, kept in dicts. Replacing or removing a
document that sits in the main matrix zeroes its entries there (a tombstone costs no allocation and
contributes nothing to any score); the delta is merged into a fresh main matrix once it outgrows a
threshold.

Two scores, two rules:
- Matching's text similarity is the cosine of log(1 + tf) vectors with no corpus weighting, so it
  depends on the two texts only: it cannot drift with what else was indexed, or in which order.
  Each document's norm is computed from its own terms with an exactly rounded sum (math.fsum),
  so a bulk build and one-by-one adds give bit-identical norms.
- Search ranks with BM25, whose IDF and average length are corpus statistics; they are
  maintained exactly on every change (integer counts), so the same catalogue gives the same
  relevance however it was built.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

from services.matching.language import CONCEPT_PREFIX, STEMMERS, Analyser, Analysis

LANGUAGES = tuple(STEMMERS)

def _identity(terms: list[str]) -> list[str]:
    return terms


class TextIndex:
    def __init__(self, n_features: int = 1 << 20, k1: float = 1.2, b: float = 0.75,
                 merge_min_docs: int = 1024, merge_fraction: float = 0.02) -> None:
        self.n_features = n_features
        self.k1, self.b = k1, b
        self.merge_min_docs, self.merge_fraction = merge_min_docs, merge_fraction
        self.analyser = Analyser()
        self._ids: dict[str, int] = {}
        self._hasher = HashingVectorizer(n_features=n_features, alternate_sign=False, norm=None,
                                         analyzer=_identity, dtype=np.float32)
        self.merges = 0
        self._reset(0)

    def _reset(self, capacity: int) -> None:
        self.df = np.zeros(self.n_features, np.int32)
        self.n_docs = 0
        self.total_len = 0
        self.doc_len = np.zeros(capacity, np.float32)
        self.inv_norm = np.zeros(capacity, np.float32)
        self.live = np.zeros(capacity, bool)
        self.in_main = np.zeros(capacity, bool)
        self.language = np.zeros(capacity, np.int8)  # index into LANGUAGES, as detected when indexed
        self._set_main(sp.csc_matrix((capacity, self.n_features), dtype=np.float32))
        self._delta: dict[int, dict[int, float]] = {}
        self._delta_docs: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _set_main(self, main: sp.csc_matrix) -> None:
        main.sort_indices()
        self._main = main
        self._log_tf = np.log1p(main.data)
        # the same matrix with log(1 + tf) values (sharing arrays: tombstones zero both)
        self._main_log_tf = sp.csc_matrix((self._log_tf, main.indices, main.indptr), shape=main.shape)
        # Where each document's postings sit in the main matrix, document by document (a CSR of
        # positions): replacing or removing a document, and a query's own terms, need no re-analysis.
        positions = np.arange(1, main.nnz + 1, dtype=np.int64 if main.nnz >= 1 << 31 else np.int32)
        by_doc = sp.csc_matrix((positions, main.indices, main.indptr), shape=main.shape).tocsr()
        self._doc_ptr, self._doc_pos = by_doc.indptr, by_doc.data
        self._doc_pos -= 1

    # ---- terms --------------------------------------------------------------------------------

    def term_ids(self, terms: Sequence[str]) -> np.ndarray:
        """Hashed id of each term, in order (the column HashingVectorizer gives it)."""
        return np.fromiter((self._term_id(term) for term in terms), np.int32, len(terms))

    def _term_id(self, term: str) -> int:
        found = self._ids.get(term)
        if found is None:
            h = murmurhash3_32(term, seed=0)
            # as sklearn's _hashing_fast: abs(h) % n, with abs(-2**31) kept in range
            found = (2147483647 - (self.n_features - 1)) % self.n_features if h == -2147483648 \
                else abs(h) % self.n_features
            if len(self._ids) < 1_000_000:
                self._ids[term] = found
        return found

    def terms(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Hashed term ids (sorted) and their counts in one text."""
        return self._hashed(self.analyser.terms(text))

    def _hashed(self, terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """As one row of HashingVectorizer.transform (sorted ids, summed counts), without its
        per-call overhead (a third of an update)."""
        ids, counts = np.unique(self.term_ids(terms), return_counts=True)
        return ids.astype(np.int32), counts.astype(np.float32)

    def idf(self, term_ids: np.ndarray | slice) -> np.ndarray:
        df = self.df[term_ids].astype(np.float64)
        return np.log1p((self.n_docs - df + 0.5) / (df + 0.5))

    @staticmethod
    def _inverse_norm(counts: np.ndarray) -> float:
        norm = math.sqrt(math.fsum(float(v) * float(v) for v in np.log1p(counts).tolist()))
        return float(np.float32(1.0 / norm)) if norm > 0 else 0.0

    # ---- capacity and bulk ----------------------------------------------------------------------

    def grow(self, capacity: int) -> None:
        for name in ("doc_len", "inv_norm", "live", "in_main", "language"):
            old = getattr(self, name)
            new = np.zeros(capacity, old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def build(self, texts: Sequence[str], capacity: int) -> None:
        """Index texts[i] in slot i, from scratch."""
        self._reset(capacity)
        n = len(texts)
        empty = sp.csr_matrix((0, self.n_features), dtype=np.float32)
        analysed = [self.analyser.language_and_terms(t) for t in texts]
        self.language[:n] = [LANGUAGES.index(language) for language, _ in analysed]
        rows = self._hasher.transform([terms for _, terms in analysed]) if n else empty
        rows.sort_indices()
        self.df = np.bincount(rows.indices, minlength=self.n_features).astype(np.int32)
        lengths = np.asarray(rows.sum(axis=1)).ravel()
        self.doc_len[:n] = lengths
        self.total_len = int(lengths.sum())
        self.n_docs = n
        self.live[:n] = True
        self.in_main[:n] = True
        indptr, data = rows.indptr, rows.data
        self.inv_norm[:n] = [self._inverse_norm(data[indptr[i]:indptr[i + 1]]) for i in range(n)]
        main = rows.tocsc()
        main.resize((capacity, self.n_features))
        self._set_main(main)

    # ---- single documents ---------------------------------------------------------------------

    def add(self, slot: int, text: str) -> None:
        """Index text in an empty slot (call remove first to replace)."""
        language, terms = self.analyser.language_and_terms(text)
        self.language[slot] = LANGUAGES.index(language)
        ids, counts = self._hashed(terms)
        self._delta_docs[slot] = (ids, counts)
        for term, count in zip(ids.tolist(), counts.tolist(), strict=True):
            self._delta.setdefault(term, {})[slot] = count
        self.df[ids] += 1
        self.n_docs += 1
        self.live[slot] = True
        self.in_main[slot] = False
        self.doc_len[slot] = length = float(counts.sum())
        self.total_len += int(length)
        self.inv_norm[slot] = self._inverse_norm(counts)
        if len(self._delta_docs) >= max(self.merge_min_docs, self.merge_fraction * self.n_docs):
            self.merge()

    def remove(self, slot: int) -> None:
        """Unindex the document in slot."""
        if not self.live[slot]:
            return
        if slot in self._delta_docs:
            ids, _ = self._delta_docs.pop(slot)
            for term in ids.tolist():
                postings = self._delta[term]
                del postings[slot]
                if not postings:
                    del self._delta[term]
        else:
            positions = self._main_positions(slot)
            ids = self._term_of(positions)
            self._main.data[positions] = 0.0
            self._log_tf[positions] = 0.0
        self.df[ids] -= 1
        self.n_docs -= 1
        self.total_len -= int(self.doc_len[slot])
        self.doc_len[slot] = 0.0
        self.inv_norm[slot] = 0.0
        self.live[slot] = False
        self.in_main[slot] = False

    def _main_positions(self, slot: int) -> np.ndarray:
        return self._doc_pos[self._doc_ptr[slot]:self._doc_ptr[slot + 1]]

    def _term_of(self, positions: np.ndarray) -> np.ndarray:
        """The term (column) of each position of the main matrix."""
        return (np.searchsorted(self._main.indptr, positions, side="right") - 1).astype(np.int32)

    def doc_terms(self, slot: int) -> tuple[np.ndarray, np.ndarray]:
        """Hashed term ids (sorted) and counts of the document indexed in slot, as terms() gave them."""
        found = self._delta_docs.get(slot)
        if found is not None:
            return found
        if not self.in_main[slot]:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        positions = self._main_positions(slot)
        return self._term_of(positions), self._main.data[positions]

    def merge(self) -> None:
        """Fold the delta into a new main matrix, dropping tombstones (norms do not change)."""
        capacity = len(self.live)
        main = self._main
        main.eliminate_zeros()
        main.resize((capacity, self.n_features))
        if self._delta_docs:
            slots = np.fromiter(self._delta_docs, np.int32, len(self._delta_docs))
            lengths = [len(self._delta_docs[s][0]) for s in slots.tolist()]
            rows = np.repeat(slots, lengths)
            cols = np.concatenate([self._delta_docs[s][0] for s in slots.tolist()])
            data = np.concatenate([self._delta_docs[s][1] for s in slots.tolist()])
            delta = sp.csc_matrix((data, (rows, cols)), shape=(capacity, self.n_features), dtype=np.float32)
            main = (main + delta).tocsc()
            self.in_main[slots] = True
        self._set_main(main)
        self._delta.clear()
        self._delta_docs.clear()
        self.merges += 1

    @property
    def delta_size(self) -> int:
        return len(self._delta_docs)

    # ---- scoring ------------------------------------------------------------------------------

    def _postings(self, term: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(slots, counts) from the main matrix and from the delta."""
        lo, hi = int(self._main.indptr[term]), int(self._main.indptr[term + 1])
        found = [(self._main.indices[lo:hi], self._main.data[lo:hi])]
        delta = self._delta.get(term)
        if delta:
            found.append((np.fromiter(delta.keys(), np.int32, len(delta)),
                          np.fromiter(delta.values(), np.float32, len(delta))))
        return found

    def query_terms(self, query: str) -> list[set[str]]:
        return self.analyser.query_alternatives(query)

    def bm25(self, query: str | list[set[str]], n: int) -> np.ndarray:
        """BM25 of every slot below n (0 = no query word matched).

        Each query word counts once, with the best of the terms it may stand for (its stem in the
        detected language or in English, the word as written, a lexicon concept)."""
        scores = np.zeros(n, np.float64)
        if not self.n_docs:
            return scores
        avg_len = max(self.total_len / self.n_docs, 1e-9)
        k1, b = self.k1, self.b
        words = self.query_terms(query) if isinstance(query, str) else query
        for alternatives in words:
            ids = np.unique(self.term_ids(sorted(alternatives)))
            best = np.zeros(n, np.float64)
            for term, idf in zip(ids.tolist(), self.idf(ids).tolist(), strict=True):
                for slots, counts in self._postings(term):
                    norm = k1 * (1.0 - b + b * self.doc_len[slots] / avg_len)
                    # a term's slots are distinct, in the main matrix as in the delta
                    best[slots] = np.maximum(best[slots], idf * (k1 + 1.0) * counts / (counts + norm))
            scores += best
        return scores

    def share_terms(self, slot: int, other: int) -> bool:
        """Whether the documents in two slots have a term in common (hashed: a collision may say yes)."""
        mine, theirs = self.doc_terms(slot)[0], self.doc_terms(other)[0]
        return bool(np.intersect1d(mine, theirs, assume_unique=True).size)

    def similarity(self, slot: int, n: int) -> np.ndarray | None:
        """Cosine of log(1 + tf) vectors between the text indexed in slot and every slot below n;
        None if that text has no terms."""
        ids, counts = self.doc_terms(slot)
        inverse = float(self.inv_norm[slot])
        if not len(ids) or inverse == 0.0:
            return None
        factors = (np.log1p(counts) * inverse).astype(np.float32)
        acc = np.zeros(n, np.float32)
        # scipy's matrix-vector product adds term by term in float32, as the loop over the delta
        # does: the same sums, in the same order, twice as fast as a numpy loop over the terms.
        from_main = self._main_log_tf[:, ids] @ factors
        rows = min(n, len(from_main))
        acc[:rows] = from_main[:rows]
        for term, factor in zip(ids.tolist(), factors.tolist(), strict=True):
            delta = self._delta.get(term)
            if delta:  # a slot of the delta has only tombstones (zeros) in the main matrix
                slots = np.fromiter(delta.keys(), np.int32, len(delta))
                counts = np.fromiter(delta.values(), np.float32, len(delta))
                acc[slots] += np.float32(factor) * np.log1p(counts)
        acc *= self.inv_norm[:n]
        return acc

    def analyse(self, text: str, slot: int | None = None) -> Analysis:
        """The analysis of a text (of the one indexed in slot, in the language detected then)."""
        return self.analyser.analyse(text, None if slot is None else LANGUAGES[self.language[slot]])

    def proximity(self, query: list[set[str]], text: str, slot: int) -> float:
        """Share of consecutive query words found near each other in the text indexed in slot (at
        most one other content word between, in either order): "recycle textiles" is close in
        "textile recycling"."""
        if len(query) < 2:
            return 0.0
        found = self.analyser.places(text, LANGUAGES[self.language[slot]])
        places = [{p for term in alternatives for p in found.get(term, ())} for alternatives in query]
        close = sum(1 for these, those in zip(places, places[1:], strict=False)
                    if any(0 < abs(p - q) <= 2 for p in these for q in those))
        return close / (len(query) - 1)

    def rarity(self, terms: Sequence[str]) -> dict[str, float]:
        """IDF of each term in the current catalogue (used to show the most distinctive first)."""
        return dict(zip(terms, self.idf(self.term_ids(terms)).tolist(), strict=True))

    def memory_bytes(self) -> int:
        arrays = (self.df, self.doc_len, self.inv_norm, self.live, self.in_main, self.language, self._log_tf,
                  self._main.data, self._main.indices, self._main.indptr, self._doc_ptr, self._doc_pos)
        total = sum(a.nbytes for a in arrays)
        total += sys.getsizeof(self._delta) + sys.getsizeof(self._delta_docs)
        for postings in self._delta.values():
            total += sys.getsizeof(postings) + 60 * len(postings)  # int key + float value objects
        for ids, counts in self._delta_docs.values():
            total += ids.nbytes + counts.nbytes + 2 * 112 + 64  # two small arrays and a tuple
        return total


def is_concept(term: str) -> bool:
    return term.startswith(CONCEPT_PREFIX)
