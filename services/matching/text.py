"""Free text of the match index: hashed terms, BM25 for search, TF-IDF cosine for matching.

Documents live in slots (rows) chosen by the caller. Postings are kept LSM-style: a main CSC
matrix (one column per hashed term, sorted slots inside a column) built in bulk, plus a small
delta of documents added since, kept in dicts. Replacing or removing a document that sits in the
main matrix zeroes its entries there (a tombstone costs no allocation and contributes nothing
to any score); the delta is merged into a fresh main matrix once it outgrows a threshold.

Document frequencies, lengths and the document count are maintained on every change, so BM25 is
exact at all times. The cosine norms of documents use the IDF of the moment they were indexed
and are all recomputed at each merge (and in bulk builds), which keeps them from drifting.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, HashingVectorizer

# Articles, conjunctions and prepositions of the most common other languages on the platform,
# as they look after accent stripping (tokens shorter than two characters never survive).
_OTHER_STOP_WORDS = frozenset(word for line in (
    "der die das den dem des ein eine einer eines und oder mit von zu im auf fur ist sind wir",
    "le la les un une des du de et ou au aux en pour par sur avec est sont nous dans",
    "el los las una unos unas y con del por para es son nosotros",
    "il lo gli di da che per con sono siamo nel nella",
    "os as um uma do da dos das no na com por para sao nos",
    "het een van en met voor op zijn wij",
    "och att av med pa ar vi som",
    "oraz dla jest sa sie",
) for word in line.split())
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | _OTHER_STOP_WORDS

_EMPTY_I32 = np.zeros(0, np.int32)
_EMPTY_F32 = np.zeros(0, np.float32)


class TextIndex:
    def __init__(self, n_features: int = 1 << 20, k1: float = 1.2, b: float = 0.75,
                 merge_min_docs: int = 1024, merge_fraction: float = 0.02) -> None:
        self.n_features = n_features
        self.k1, self.b = k1, b
        self.merge_min_docs, self.merge_fraction = merge_min_docs, merge_fraction
        self._vectorizer = HashingVectorizer(
            n_features=n_features, alternate_sign=False, norm=None, lowercase=True,
            strip_accents="unicode", stop_words=sorted(STOP_WORDS), dtype=np.float32)
        self._analyzer = self._vectorizer.build_analyzer()
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
        self._set_main(sp.csc_matrix((capacity, self.n_features), dtype=np.float32))
        self._delta: dict[int, dict[int, float]] = {}
        self._delta_docs: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _set_main(self, main: sp.csc_matrix) -> None:
        main.sort_indices()
        self._main = main
        self._log_tf = np.log1p(main.data)

    # ---- tokens -------------------------------------------------------------------------------

    def terms(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Hashed term ids and their counts in one text (stop words removed)."""
        row = self._vectorizer.transform([text])
        return row.indices.astype(np.int32), row.data

    def tokens(self, text: str) -> list[str]:
        return self._analyzer(text)

    def idf(self, term_ids: np.ndarray | slice) -> np.ndarray:
        df = self.df[term_ids].astype(np.float64)
        return np.log1p((self.n_docs - df + 0.5) / (df + 0.5))

    # ---- capacity and bulk ----------------------------------------------------------------------

    def grow(self, capacity: int) -> None:
        for name in ("doc_len", "inv_norm", "live", "in_main"):
            old = getattr(self, name)
            new = np.zeros(capacity, old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def build(self, texts: Sequence[str], capacity: int) -> None:
        """Index texts[i] in slot i, from scratch."""
        self._reset(capacity)
        n = len(texts)
        empty = sp.csr_matrix((0, self.n_features), dtype=np.float32)
        rows = self._vectorizer.transform(texts) if n else empty
        self.df = np.bincount(rows.indices, minlength=self.n_features).astype(np.int32)
        lengths = np.asarray(rows.sum(axis=1)).ravel()
        self.doc_len[:n] = lengths
        self.total_len = int(lengths.sum())
        self.n_docs = n
        self.live[:n] = True
        self.in_main[:n] = True
        main = rows.tocsc()
        main.resize((capacity, self.n_features))
        self._set_main(main)
        self._recompute_norms()

    def _recompute_norms(self) -> None:
        main = self._main
        columns = np.repeat(np.arange(self.n_features, dtype=np.int32), np.diff(main.indptr))
        weights = self._log_tf * self.idf(slice(None))[columns]
        squares = np.bincount(main.indices, weights=weights * weights, minlength=len(self.inv_norm))
        norms = np.sqrt(squares[: len(self.inv_norm)])
        self.inv_norm = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0).astype(np.float32)

    # ---- single documents ---------------------------------------------------------------------

    def add(self, slot: int, text: str) -> None:
        """Index text in an empty slot (call remove first to replace)."""
        ids, counts = self.terms(text)
        self._delta_docs[slot] = (ids, counts)
        for term, count in zip(ids.tolist(), counts.tolist(), strict=True):
            self._delta.setdefault(term, {})[slot] = count
        self.df[ids] += 1
        self.n_docs += 1
        self.live[slot] = True
        self.in_main[slot] = False
        self.doc_len[slot] = length = float(counts.sum())
        self.total_len += int(length)
        weights = np.log1p(counts) * self.idf(ids)
        norm = float(np.sqrt(np.dot(weights, weights)))
        self.inv_norm[slot] = 1.0 / norm if norm > 0 else 0.0
        if len(self._delta_docs) >= max(self.merge_min_docs, self.merge_fraction * self.n_docs):
            self.merge()

    def remove(self, slot: int, text: str) -> None:
        """Unindex the document in slot; text must be the one it was indexed with."""
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
            ids, _ = self.terms(text)
            self._tombstone(slot, ids)
        self.df[ids] -= 1
        self.n_docs -= 1
        self.total_len -= int(self.doc_len[slot])
        self.doc_len[slot] = 0.0
        self.inv_norm[slot] = 0.0
        self.live[slot] = False
        self.in_main[slot] = False

    def _tombstone(self, slot: int, ids: np.ndarray) -> None:
        indptr, indices, data = self._main.indptr, self._main.indices, self._main.data
        for term in ids.tolist():
            lo, hi = int(indptr[term]), int(indptr[term + 1])
            pos = lo + int(np.searchsorted(indices[lo:hi], slot))
            if pos < hi and indices[pos] == slot:
                data[pos] = 0.0
                self._log_tf[pos] = 0.0

    def merge(self) -> None:
        """Fold the delta into a new main matrix, dropping tombstones; recompute every norm."""
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
        self._recompute_norms()
        self.merges += 1

    @property
    def delta_size(self) -> int:
        return len(self._delta_docs)

    # ---- scoring ------------------------------------------------------------------------------

    def _postings(self, term: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(slots, counts, log1p(counts)) from the main matrix and from the delta."""
        lo, hi = int(self._main.indptr[term]), int(self._main.indptr[term + 1])
        found = [(self._main.indices[lo:hi], self._main.data[lo:hi], self._log_tf[lo:hi])]
        delta = self._delta.get(term)
        if delta:
            slots = np.fromiter(delta.keys(), np.int32, len(delta))
            counts = np.fromiter(delta.values(), np.float32, len(delta))
            found.append((slots, counts, np.log1p(counts)))
        return found

    def bm25(self, query: str, n: int) -> np.ndarray:
        """BM25 of every slot below n against the query's distinct terms (0 = no term matched)."""
        scores = np.zeros(n, np.float64)
        ids, _ = self.terms(query)
        if not len(ids) or not self.n_docs:
            return scores
        avg_len = max(self.total_len / self.n_docs, 1e-9)
        k1, b = self.k1, self.b
        for term, idf in zip(ids.tolist(), self.idf(ids).tolist(), strict=True):
            for slots, counts, _ in self._postings(term):
                norm = k1 * (1.0 - b + b * self.doc_len[slots] / avg_len)
                scores[slots] += idf * (k1 + 1.0) * counts / (counts + norm)
        return scores

    def similarity(self, text: str, n: int) -> np.ndarray | None:
        """Cosine of log-TF x IDF vectors between text and every slot below n; None if text has no terms."""
        ids, counts = self.terms(text)
        if not len(ids):
            return None
        idf = self.idf(ids)
        query = np.log1p(counts) * idf
        query_norm = float(np.sqrt(np.dot(query, query)))
        if query_norm == 0.0:
            return None
        factors = (query * idf / query_norm).astype(np.float32)
        acc = np.zeros(n, np.float32)
        for term, factor in zip(ids.tolist(), factors.tolist(), strict=True):
            for slots, _, log_tf in self._postings(term):
                acc[slots] += factor * log_tf
        acc *= self.inv_norm[:n]
        return acc

    def shared_terms(self, text: str, others: Sequence[str], limit: int = 5) -> list[tuple[str, ...]]:
        """For each other text, the words it shares with text, rarest first."""
        mine = set(self.tokens(text))
        shared = [mine.intersection(self.tokens(other)) for other in others]
        vocabulary = sorted(set().union(*shared)) if shared else []
        if not vocabulary:
            return [() for _ in others]
        hashed = self._vectorizer.transform(vocabulary)
        term_of = np.zeros(len(vocabulary), np.int32)
        term_of[np.repeat(np.arange(len(vocabulary)), np.diff(hashed.indptr))] = hashed.indices
        rarity = dict(zip(vocabulary, self.idf(term_of).tolist(), strict=True))
        return [tuple(sorted(words, key=lambda w: (-rarity[w], w))[:limit]) for words in shared]

    def memory_bytes(self) -> int:
        arrays = (self.df, self.doc_len, self.inv_norm, self.live, self.in_main, self._log_tf,
                  self._main.data, self._main.indices, self._main.indptr)
        total = sum(a.nbytes for a in arrays)
        total += sys.getsizeof(self._delta) + sys.getsizeof(self._delta_docs)
        for postings in self._delta.values():
            total += sys.getsizeof(postings) + 60 * len(postings)  # int key + float value objects
        for ids, counts in self._delta_docs.values():
            total += ids.nbytes + counts.nbytes + 2 * 112 + 64  # two small arrays and a tuple
        return total
