"""Matching engine benchmark: the numpy index against a plain-Python loop, on a seeded synthetic catalogue.

`python -m bench.matching.run [--sizes 10000,100000] [--queries 500] [--baseline-queries 50,20]`

Each size runs in a fresh process (so the RSS delta of the build is not blurred by an earlier size)
and measures: bulk_load time, memory_bytes and RSS delta, top-20 match latency, search latency and
single-update latency, each next to the same computation done by a straightforward Python loop
over all profiles (sets for matching, dicts for BM25 search), plus the rate at which a planted ideal
host ranks in its visitor's top 10. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.matching import quality, synthetic
from bench.procstat import load
from services.matching.engine import MatchIndex, Profile, SearchFilters, Weights, merged_windows
from services.matching.language import Analyser

TARGETS = {"match_p95_ms": 25.0, "search_p95_ms": 50.0, "update_p95_ms": 2.0, "memory_mb": 400.0}
PLANTED_PAIRS = 200
UPDATES = 3000


# ---- the baseline: one plain loop over every profile per query ----------------------------------------


def _merged(profile: Profile) -> list[tuple[int, int]]:
    return merged_windows(profile.availability)


def _common_days(mine: list[tuple[int, int]], theirs: list[tuple[int, int]]) -> int:
    return sum(max(0, min(a_end, b_end) - max(a_start, b_start) + 1)
               for a_start, a_end in mine for b_start, b_end in theirs)


class Baseline:
    """The same score and the same BM25, computed profile by profile with sets and dicts."""

    def __init__(self, profiles: list[Profile], weights: Weights) -> None:
        self.profiles = profiles
        self.w = weights
        self.analyser = Analyser()
        self.counts = [Counter(self.analyser.terms(p.text)) for p in profiles]
        df: Counter[str] = Counter()
        for counts in self.counts:
            df.update(counts.keys())
        n = len(profiles)
        self.idf = {t: math.log1p((n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.vectors = [{t: math.log1p(c) for t, c in counts.items()} for counts in self.counts]
        self.norms = [math.sqrt(sum(v * v for v in vec.values())) for vec in self.vectors]
        self.lengths = [sum(counts.values()) for counts in self.counts]
        self.avg_length = sum(self.lengths) / max(n, 1)
        self.windows = [_merged(p) for p in profiles]
        self.position = {p.registration_id: i for i, p in enumerate(profiles)}

    # matching

    @staticmethod
    def _can_host(p: Profile) -> bool:
        return "host" in p.roles and p.host_capacity > 0

    @staticmethod
    def _can_visit(p: Profile) -> bool:
        return "visitor" in p.roles and not p.has_visited

    def _coverage(self, mine: frozenset[str], theirs: frozenset[str]) -> float:
        return len(mine & theirs) / len(mine) if mine else self.w.neutral

    def _mutual(self, mine: frozenset[str], theirs: frozenset[str]) -> float:
        return (self._coverage(mine, theirs) + self._coverage(theirs, mine)) / 2

    def _primary(self, pa: Profile, pb: Profile) -> float:
        if not pa.main_sector:
            return self.w.neutral
        return 1.0 if pa.main_sector == pb.main_sector else 0.5 if pa.main_sector in pb.sectors else 0.0

    def _preference(self, pa: Profile, pb: Profile) -> float:
        return float(pb.country in pa.target_countries) if pa.target_countries else self.w.neutral

    def _score(self, a: int, b: int) -> float:
        w, pa, pb = self.w, self.profiles[a], self.profiles[b]
        neutral = w.neutral
        f = {kind: self._mutual(getattr(pa, kind), getattr(pb, kind))
             for kind in ("sectors", "objectives", "activity_types")}
        f["primary_sector"] = (self._primary(pa, pb) + self._primary(pb, pa)) / 2
        f["country_preference"] = (self._preference(pa, pb) + self._preference(pb, pa)) / 2
        f["languages"] = (neutral if not pa.languages or not pb.languages
                          else float(bool(pa.languages & pb.languages)))
        f["mode"] = 1.0 if not pa.modes or not pb.modes else float(bool(pa.modes & pb.modes))
        days_a, days_b = self.windows[a], self.windows[b]
        if days_a and days_b:
            mine, theirs = (sum(e - s + 1 for s, e in d) for d in (days_a, days_b))
            needed = max(min(w.exchange_days, mine, theirs), 1)
            common = _common_days(days_a, days_b)
            f["availability"] = min(common / needed, 1.0) if common else -1.0
        else:
            f["availability"] = neutral
        va, vb = self.vectors[a], self.vectors[b]
        if self.norms[a] and self.norms[b]:
            small, large = (va, vb) if len(va) < len(vb) else (vb, va)
            dot = sum(v * large[t] for t, v in small.items() if t in large)
            f["text"] = min(dot / (self.norms[a] * self.norms[b]) / w.text_saturation, 1.0)
        else:
            f["text"] = neutral
        return max(sum(w.points(kind) * f[kind] for kind in Weights.KINDS), 0.0)

    def matches(self, registration_id: str, limit: int = 20) -> list[tuple[str, float]]:
        a = self.position[registration_id]
        pa = self.profiles[a]
        wants_hosts, wants_visitors = self._can_visit(pa), self._can_host(pa)
        scored = []
        for b, pb in enumerate(self.profiles):
            if b == a or pb.country == pa.country:
                continue
            if not ((wants_hosts and self._can_host(pb)) or (wants_visitors and self._can_visit(pb))):
                continue
            scored.append((self._score(a, b), pb.registration_id))
        best = heapq.nsmallest(limit, scored, key=lambda item: (-item[0], item[1]))
        return [(rid, score) for score, rid in best]

    # search

    def _passes(self, i: int, f: SearchFilters) -> bool:
        p = self.profiles[i]
        checks = (
            f.role is None or f.role in p.roles,
            f.country is None or p.country == f.country,
            f.sector is None or f.sector in p.sectors,
            f.organisation_type is None or p.organisation_type == f.organisation_type,
            f.activity_type is None or f.activity_type in p.activity_types,
            f.language is None or f.language in p.languages,
            f.mode is None or not p.modes or f.mode in p.modes,
            p.registration_id not in f.exclude_ids,
        )
        if not all(checks):
            return False
        if f.available_from is None and f.available_to is None:
            return True
        lo = f.available_from.toordinal() if f.available_from else 1
        hi = f.available_to.toordinal() if f.available_to else date.max.toordinal()
        return any(s <= hi and e >= lo for s, e in self.windows[i])

    def search(self, text: str, filters: SearchFilters,
               limit: int = 20) -> tuple[list[tuple[str, float]], int]:
        words = self.analyser.query_alternatives(text)
        k1, b = 1.2, 0.75
        scored = []
        for i, counts in enumerate(self.counts):
            if not self._passes(i, filters):
                continue
            norm = k1 * (1 - b + b * self.lengths[i] / self.avg_length)
            score = 0.0
            for alternatives in words:
                score += max((self.idf[t] * counts[t] * (k1 + 1) / (counts[t] + norm)
                              for t in alternatives if counts.get(t)), default=0.0)
            if score > 0:
                scored.append((score, self.profiles[i].registration_id))
        best = heapq.nsmallest(limit, scored, key=lambda item: (-item[0], item[1]))
        return [(rid, score) for score, rid in best], len(scored)


# ---- workloads ----------------------------------------------------------------------------------------


def random_filters(rng: random.Random, profiles: list[Profile]) -> SearchFilters:
    chosen: dict[str, Any] = {}
    for name in rng.sample(["role", "country", "sector", "organisation_type", "activity_type", "language",
                            "mode", "available"], rng.randint(0, 2)):
        p = rng.choice(profiles)
        if name == "role":
            chosen["role"] = rng.choice(["visitor", "host"])
        elif name == "country":
            chosen["country"] = p.country
        elif name == "sector":
            chosen["sector"] = rng.choice(sorted(p.sectors))
        elif name == "organisation_type":
            chosen["organisation_type"] = p.organisation_type
        elif name == "activity_type":
            chosen["activity_type"] = rng.choice(sorted(p.activity_types))
        elif name == "language":
            chosen["language"] = rng.choice(sorted(p.languages))
        elif name == "mode":
            chosen["mode"] = rng.choice(["physical", "virtual"])
        else:
            start = synthetic.START + timedelta(days=rng.randrange(0, 330))
            chosen["available_from"], chosen["available_to"] = start, start + timedelta(days=14)
    return SearchFilters(**chosen)


def random_queries(rng: random.Random, profiles: list[Profile],
                   count: int) -> list[tuple[str, SearchFilters]]:
    vocabulary = sorted({w for words in synthetic.SECTOR_WORDS.values() for w in words.split()}
                        | set(synthetic.GENERIC_WORDS))
    return [(" ".join(rng.sample(vocabulary, rng.randint(1, 3))), random_filters(rng, profiles))
            for _ in range(count)]


def timed(calls: list[Callable[[], Any]]) -> tuple[np.ndarray, list[Any]]:
    """Milliseconds per call, and the results."""
    elapsed, results = [], []
    for call in calls:
        start = time.perf_counter()
        results.append(call())
        elapsed.append(time.perf_counter() - start)
    return np.array(elapsed) * 1e3, results


def stats(ms: np.ndarray) -> dict[str, Any]:
    """Percentiles of a timed block, with the machine's load just after it (a shared machine
    makes every figure noisy)."""
    return {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)), "max": float(ms.max()),
            "n": len(ms), "load": load()}


def rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


# ---- one size -----------------------------------------------------------------------------------------


def measure(size: int, queries: int, baseline_queries: int, quality: bool) -> dict[str, Any]:
    rng = random.Random(size)
    profiles = synthetic.catalogue(size)
    result: dict[str, Any] = {"size": size}
    before = rss()
    index = MatchIndex()
    start = time.perf_counter()
    index.bulk_load(profiles)
    result["build_s"] = time.perf_counter() - start
    result["rss_mb"] = (rss() - before) / 1e6
    result["memory_mb"] = index.memory_bytes() / 1e6

    ids = [p.registration_id for p in rng.sample(profiles, min(queries, size))]
    searches = random_queries(rng, profiles, queries)
    result.update(measure_reads(index, ids, searches))
    engine_top = [[m.registration_id for m in index.matches(r, 20)] for r in ids[:baseline_queries]]
    engine_hits = [index.search(q, f) for q, f in searches[:baseline_queries]]
    result.update(measure_baseline(profiles, index.weights, ids[:baseline_queries],
                                   searches[:baseline_queries], engine_top, engine_hits))
    result.update(measure_updates(index, profiles, rng))
    result["pending"] = index.pending_text_changes
    result.update({f"{k}_with_delta": v for k, v in measure_reads(index, ids, searches).items()})
    index = MatchIndex()  # let the measured one go before the quality catalogue is built
    if quality:
        result["quality"] = measure_quality(size)
    return result


def measure_reads(index: MatchIndex, ids: list[str], searches: list[tuple[str, SearchFilters]]) -> dict:
    match_ms, _ = timed([lambda r=r: index.matches(r, 20) for r in ids])
    search_ms, _ = timed([lambda q=q, f=f: index.search(q, f, 0, 20) for q, f in searches])
    return {"match": stats(match_ms), "search": stats(search_ms)}


def measure_baseline(profiles: list[Profile], weights: Weights, ids: list[str],
                     searches: list[tuple[str, SearchFilters]], engine_top: list[list[str]],
                     engine_hits: list[tuple[list[tuple[str, float]], int]]) -> dict[str, Any]:
    baseline = Baseline(profiles, weights)
    match_ms, baseline_top = timed([lambda r=r: baseline.matches(r, 20) for r in ids])
    search_ms, baseline_hits = timed([lambda q=q, f=f: baseline.search(q, f) for q, f in searches])
    return {
        "match_baseline": stats(match_ms), "search_baseline": stats(search_ms),
        "agreement": agreement(engine_top, [[rid for rid, _ in top] for top in baseline_top]),
        "search_totals_equal": all(e[1] == b[1] for e, b in zip(engine_hits, baseline_hits, strict=True)),
    }


def agreement(engine: list[list[str]], baseline: list[list[str]]) -> float:
    shared = sum(len(set(e) & set(b)) for e, b in zip(engine, baseline, strict=False))
    expected = sum(len(b) for b in baseline)
    return shared / expected if expected else 1.0


def measure_updates(index: MatchIndex, profiles: list[Profile], rng: random.Random) -> dict[str, Any]:
    generator = synthetic.Generator(synthetic.SEED + 7)
    edited = [generator.changed(p) for p in rng.sample(profiles, min(UPDATES, len(profiles)))]
    merges_before = index.text_merges
    ms, applied = timed([lambda p=p: index.upsert(p) for p in edited])
    assert all(applied)
    return {"update": stats(ms), "merges": index.text_merges - merges_before}


def measure_quality(size: int) -> dict[str, Any]:
    return {"matching": quality.measure_matching(size, PLANTED_PAIRS), "search": quality.measure_search(size)}


# ---- report -------------------------------------------------------------------------------------------


@dataclass
class Row:
    metric: str
    engine: str
    baseline: str = ""
    target: str = ""
    verdict: str = ""
    load: str = ""


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def rows_for(r: dict[str, Any]) -> list[Row]:
    def lat(s: dict[str, float]) -> str:
        return f"{s['p50']:.2f} / {s['p95']:.2f}"

    def base(s: dict[str, float]) -> str:
        return f"{s['p50']:.0f} / {s['p95']:.0f} ({s['n']} q)"

    rows = [
        Row("bulk_load (s)", f"{r['build_s']:.2f}"),
        Row("memory_bytes (MB)", f"{r['memory_mb']:.0f}", "", f"<= {TARGETS['memory_mb']:.0f}",
            verdict(r["memory_mb"] <= TARGETS["memory_mb"])),
        Row("RSS delta of bulk_load (MB)", f"{r['rss_mb']:.0f}", "", f"<= {TARGETS['memory_mb']:.0f}",
            verdict(r["rss_mb"] <= TARGETS["memory_mb"])),
        Row("top-20 matches p50/p95 (ms)", lat(r["match"]), base(r["match_baseline"]),
            f"p95 <= {TARGETS['match_p95_ms']:.0f}", verdict(r["match"]["p95"] <= TARGETS["match_p95_ms"]),
            r["match"]["load"]),
        Row("search p50/p95 (ms)", lat(r["search"]), base(r["search_baseline"]),
            f"p95 <= {TARGETS['search_p95_ms']:.0f}",
            verdict(r["search"]["p95"] <= TARGETS["search_p95_ms"]), r["search"]["load"]),
        Row("one update p50/p95 (ms)", lat(r["update"]), "", f"p95 <= {TARGETS['update_p95_ms']:.0f}",
            verdict(r["update"]["p95"] <= TARGETS["update_p95_ms"]), r["update"]["load"]),
        Row(f"  max, {r['merges']} merge(s) in {r['update']['n']} updates", f"{r['update']['max']:.1f}"),
        Row(f"top-20 p50/p95, {r['pending']} text changes pending", lat(r["match_with_delta"]), "",
            f"p95 <= {TARGETS['match_p95_ms']:.0f}",
            verdict(r["match_with_delta"]["p95"] <= TARGETS["match_p95_ms"]), r["match_with_delta"]["load"]),
        Row(f"search p50/p95, {r['pending']} text changes pending", lat(r["search_with_delta"]), "",
            f"p95 <= {TARGETS['search_p95_ms']:.0f}",
            verdict(r["search_with_delta"]["p95"] <= TARGETS["search_p95_ms"]),
            r["search_with_delta"]["load"]),
        Row("top-20 agreement with baseline", f"{r['agreement']:.1%}"),
        Row("search totals equal baseline", "yes" if r["search_totals_equal"] else "NO"),
    ]
    return rows


def print_report(r: dict[str, Any]) -> bool:
    """Prints one size's figures; whether every target was met."""
    print(f"\n{r['size']:,} registrations")
    header = Row("metric", "engine", "baseline p50/p95 (ms)", "target", "", "load (1/5/15 min)")
    widths = (42, 16, 26, 14, 5, 20)
    rows = rows_for(r)
    for row in (header, *rows):
        cells = (row.metric, row.engine, row.baseline, row.target, row.verdict, row.load)
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    ok = all(row.verdict != verdict(False) for row in rows)
    ok = ok and r["agreement"] == 1.0 and r["search_totals_equal"]
    if "quality" in r:
        ok = quality.report_matching(r["quality"]["matching"], r["size"]) and ok
        ok = quality.report_search(r["quality"]["search"], r["size"]) and ok
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated catalogue sizes")
    parser.add_argument("--queries", type=int, default=500, help="match and search queries per size")
    parser.add_argument("--baseline-queries", default="50,20",
                        help="queries given to the Python baseline, per size (last value repeats)")
    parser.add_argument("--quality-sizes", default=None,
                        help="sizes with the planted-pair check (default: all)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    per_size = [int(s) for s in args.baseline_queries.split(",")]
    quality_sizes = set(sizes)
    if args.quality_sizes is not None:
        quality_sizes = {int(s) for s in args.quality_sizes.split(",") if s}
    print(f"Matching engine benchmark, seed {synthetic.SEED}, {psutil.cpu_count()} CPUs; "
          "baseline = plain Python loop over every profile (sets / dicts), on the first queries only")
    results = []
    ok = True
    for i, size in enumerate(sizes):
        baseline_queries = per_size[min(i, len(per_size) - 1)]
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            job = pool.submit(measure, size, args.queries, baseline_queries, size in quality_sizes)
            result = job.result()
        result["wall_s"] = time.perf_counter() - started
        ok = print_report(result) and ok
        print(f"  ({result['wall_s']:.0f} s for this size)")
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
