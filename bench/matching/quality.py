"""Quality of matching and search on a seeded synthetic catalogue with planted answers.

`python -m bench.matching.quality [--size 10000] [--pairs 200]`

Matching: planted (visitor, ideal host) pairs, each with three decoys of the ideal host —
  same-country twin   the host, moved to the visitor's country (a hard rule must keep it out)
  one-axis decoy      the host with one thing changed: other sectors, no common language, not in
                      the visitor's target countries, an incompatible mode or other activity types
  no-dates twin       the host with dates that share no day with the visitor's
Reports recall@1/@5/@10 and MRR of the ideal host, and where each kind of decoy ranks.

Search: planted descriptions (two notions each, in English, German or French, the two from different
sectors so that the background catalogue seldom pairs them) with decoys holding one of the notions,
found by queries with plurals, reordered words and in German, French, Italian, Spanish and Polish;
reports hit@1/@5 next to a literal BM25 (words as written, the search before stemming and the
lexicon) computed in the same run.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from bench.matching import synthetic
from services.matching.engine import MatchIndex, Profile, SearchFilters

TARGETS = {"recall_at_1": 0.95, "no_dates_best_rank": 6, "search_hit_at_5": 0.9}
# The planted answers stay the only right ones while the background seldom pairs their two
# notions: the targets hold for catalogues of this size (README: at 100k they no longer do).
TARGET_SIZE = 10_000
DEPTH = 50  # matches read per visitor; a rank beyond it counts as "not found"

# ---- matching -------------------------------------------------------------------------------------------

_AXES = ("sectors", "languages", "target_country", "mode", "activity_types")


def _one_axis(host: Profile, visitor: Profile, axis: str, rng: random.Random) -> Profile:
    if axis == "sectors":
        others = sorted(set(synthetic.SECTOR_WORDS) - visitor.sectors)
        sectors = frozenset(rng.sample(others, len(visitor.sectors)))
        return replace(host, sectors=sectors, primary_sector=sorted(sectors)[0])
    if axis == "languages":
        spoken = sorted({code for codes in synthetic.NATIONAL_LANGUAGES.values() for code in codes}
                        - visitor.languages - {"en"})
        return replace(host, languages=frozenset(rng.sample(spoken, 1)))
    if axis == "target_country":
        others = sorted(set(synthetic.POPULATION) - visitor.target_countries - {visitor.country})
        return replace(host, country=rng.choice(others))
    if axis == "mode":
        wanted = visitor.modes or frozenset({"physical", "virtual"})
        other = frozenset({"physical", "virtual"}) - wanted
        if not other:  # the visitor accepts both: make it want one, the decoy the other
            return replace(host, modes=frozenset({"virtual"}))
        return replace(host, modes=other)
    others = sorted(set(synthetic.ACTIVITY_TYPES) - visitor.activity_types)
    return replace(host, activity_types=frozenset(rng.sample(others, min(len(others), 1))))


def planted_with_decoys(size: int, pairs: int,
                        seed: int = synthetic.SEED) -> tuple[list[Profile], list[dict]]:
    generator = synthetic.Generator(seed + 2)
    rng = random.Random(seed + 3)
    profiles = [generator.profile() for _ in range(size - 5 * pairs)]
    planted = []
    for k in range(pairs):
        visitor, host = generator.planted_pair()
        axis = _AXES[k % len(_AXES)]
        if axis == "mode" and (not visitor.modes or visitor.modes == frozenset({"physical", "virtual"})):
            visitor = replace(visitor, modes=frozenset({"physical"}))
        decoy = replace(_one_axis(host, visitor, axis, rng), registration_id=f"{host.registration_id}-axis")
        twin = replace(host, registration_id=f"{host.registration_id}-same", country=visitor.country,
                       target_countries=host.target_countries - {visitor.country})
        far = date(2029, 6, 1)  # the synthetic availability lies in 2027-2028
        no_dates = replace(host, registration_id=f"{host.registration_id}-nodates",
                           availability=((far, far + timedelta(days=30)),))
        profiles.extend((visitor, host, decoy, twin, no_dates))
        planted.append({"visitor": visitor.registration_id, "host": host.registration_id, "axis": axis,
                        "axis_decoy": decoy.registration_id, "same_country": twin.registration_id,
                        "no_dates": no_dates.registration_id})
    rng.shuffle(profiles)
    return profiles, planted


def measure_matching(size: int, pairs: int) -> dict[str, Any]:
    profiles, planted = planted_with_decoys(size, pairs)
    index = MatchIndex()
    index.bulk_load(profiles)
    ranks: dict[str, list[int | None]] = {"host": [], "axis_decoy": [], "same_country": [], "no_dates": []}
    by_axis: dict[str, list[int | None]] = {axis: [] for axis in _AXES}
    examples = {}
    for pair in planted:
        found = index.matches(pair["visitor"], DEPTH)
        position = {m.registration_id: rank for rank, m in enumerate(found, start=1)}
        for role in ranks:
            ranks[role].append(position.get(pair[role]))
        by_axis[pair["axis"]].append(position.get(pair["axis_decoy"]))
        if not examples:
            examples = {m.registration_id: m for m in found if m.registration_id in
                        (pair["host"], pair["no_dates"], pair["axis_decoy"])}
    hosts = ranks["host"]
    n = len(hosts)

    def best(found: list[int | None]) -> int | None:
        return min((r for r in found if r is not None), default=None)

    return {
        "pairs": n,
        "recall": {k: sum(1 for r in hosts if r is not None and r <= k) / n for k in (1, 5, 10)},
        "mrr": sum(1 / r for r in hosts if r is not None) / n,
        "decoys": {role: {"best": best(found), "top5": sum(1 for r in found if r is not None and r <= 5),
                          "above_host": sum(1 for r, h in zip(found, hosts, strict=True)
                                            if r is not None and (h is None or r < h))}
                   for role, found in ranks.items() if role != "host"},
        "axis_best": {axis: best(found) for axis, found in by_axis.items()},
        "examples": examples,
    }


# ---- search ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planted:
    text: str
    decoys: tuple[str, ...]
    queries: dict[str, str]  # kind -> query


SEARCH_SET = (
    Planted("Vinedrone: we fly drones over vineyards to map vine diseases early.",
            ("Aerial film shooting with drones for festivals.",
             "Vineyard tours and wine tasting for visitors."),
            {"singular": "drone vineyard", "reordered plural": "vineyards drones", "de": "Drohnen Weinberg",
             "fr": "drones vignoble", "it": "droni vigneto", "es": "drones viñedo", "pl": "drony winnica"}),
    Planted("H2 Forge designs PEM electrolysers for green hydrogen production.",
            ("Hydrogen fuel logistics for trucks.", "Water treatment with electrolysis cells."),
            {"singular": "electrolyser hydrogen", "reordered plural": "hydrogen electrolysers",
             "de": "Wasserstoff Elektrolyseur", "fr": "électrolyseur hydrogène",
             "it": "elettrolizzatore idrogeno", "es": "electrolizador hidrógeno",
             "pl": "elektrolizer wodór"}),
    Planted("Hotel linen loop: we collect used towels and sheets from hotels and recycle the textiles.",
            ("Hotel booking software for small inns.", "Recycling of denim textiles into insulation."),
            {"verb form": "recycle hotel textiles", "reordered": "textile recycling hotels",
             "de": "Hotel Textilien Recycling", "fr": "recyclage textile hôtel",
             "it": "riciclo tessile albergo",
             "es": "reciclaje textil hotel", "pl": "recykling tekstyliów hotel"}),
    Planted("We install heat pumps in timber houses and train installers.",
            ("Heat pump maintenance for office buildings.", "Timber frame carpentry workshop."),
            {"singular": "heat pump timber", "reordered plural": "timber heat pumps", "de": "Wärmepumpe Holz",
             "fr": "pompe à chaleur bois", "it": "pompa di calore legno", "es": "bomba de calor madera",
             "pl": "pompa ciepła drewno"}),
    Planted("Telemedicine for ships' crews: doctors on call for maritime transport.",
            ("Telemedicine for sports injuries.", "Maritime pilots and port towage."),
            {"plain": "telemedicine maritime", "reordered": "maritime telemedicine",
             "de": "Telemedizin Schifffahrt", "fr": "télémédecine maritime", "it": "telemedicina marittimo",
             "es": "telemedicina marítimo", "pl": "telemedycyna morski"}),
    Planted("3D printing of ceramic parts for dental laboratories.",
            ("3D printing of spare parts for cars.", "Ceramics studio making tableware."),
            {"plain": "3D printing ceramics", "reordered": "ceramic 3D printing", "de": "3D-Druck Keramik",
             "fr": "impression 3D céramique", "it": "stampa 3D ceramica", "es": "impresión 3D cerámica",
             "pl": "druk 3D ceramika"}),
    Planted("Cybersecurity audits and incident response for hospitals.",
            ("Cybersecurity training for banks.", "Hospital catering and cleaning services."),
            {"plain": "cybersecurity hospital", "reordered plural": "hospitals cybersecurity",
             "de": "Cybersicherheit Krankenhaus", "fr": "cybersécurité hôpital",
             "it": "cybersicurezza ospedale",
             "es": "ciberseguridad hospital", "pl": "cyberbezpieczeństwo szpital"}),
    Planted("Underwater sensors that watch oxygen and water quality in aquaculture.",
            ("Sensors for smart parking.", "Aquaculture feed made from insects."),
            {"plural": "aquaculture sensors", "reordered": "sensor aquaculture", "de": "Aquakultur Sensor",
             "fr": "aquaculture capteur", "it": "acquacoltura sensore", "es": "acuicultura sensor",
             "pl": "akwakultura czujnik"}),
    Planted("Milking robots and automation for dairy farms.",
            ("Robots for warehouse picking.", "Dairy cooperative selling cheese."),
            {"plural": "dairy robots", "reordered": "robot dairy", "de": "Molkerei Roboter",
             "fr": "robot laitier", "it": "robot latte", "es": "robot lácteo", "pl": "robot mleczarski"}),
    Planted("Wir entwickeln Drohnen für die Inspektion von Windkraftanlagen.",
            ("Drones for parcel delivery in cities.", "Offshore wind farm logistics."),
            {"en": "drones wind turbines", "en singular": "drone wind", "fr": "drones éolien",
             "it": "droni eolico", "es": "drones eólico", "pl": "drony wiatrowy"}),
    Planted("Nous concevons des capteurs connectés pour surveiller les vignobles.",
            ("Capteurs pour la qualité de l'air.", "Vignobles et tourisme du vin."),
            {"en": "vineyard sensors", "en reordered": "sensor vineyards", "de": "Sensor Weinberg",
             "it": "sensore vigneto", "es": "sensor viñedo", "pl": "czujnik winnica"}),
)


class LiteralSearch:
    """BM25 over words as written (lower case, no accents, English stop words): the search as it was."""

    def __init__(self, texts: list[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.tokens = CountVectorizer(strip_accents="unicode", stop_words="english").build_analyzer()
        self.counts = [Counter(self.tokens(t)) for t in texts]
        df: Counter[str] = Counter()
        for counts in self.counts:
            df.update(counts.keys())
        n = len(texts)
        self.idf = {t: math.log1p((n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.lengths = [sum(c.values()) for c in self.counts]
        self.avg = sum(self.lengths) / max(n, 1)
        self.k1, self.b = k1, b

    def top(self, query: str, k: int) -> list[int]:
        terms = set(self.tokens(query))
        scored = []
        for i, counts in enumerate(self.counts):
            score = 0.0
            for term in terms:
                tf = counts.get(term)
                if tf:
                    norm = self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avg)
                    score += self.idf[term] * tf * (self.k1 + 1) / (tf + norm)
            if score > 0:
                scored.append((-score, i))
        return [i for _, i in sorted(scored)[:k]]


def measure_search(size: int) -> dict[str, Any]:
    profiles = synthetic.catalogue(size, synthetic.SEED + 4)
    targets = []
    for k, planted in enumerate(SEARCH_SET):
        base = profiles[k]
        target = replace(base, registration_id=f"search-{k:02d}", text=planted.text)
        decoys = [replace(base, registration_id=f"search-{k:02d}-decoy{d}", text=text)
                  for d, text in enumerate(planted.decoys)]
        profiles.extend((target, *decoys))
        targets.append(target.registration_id)
    index = MatchIndex()
    index.bulk_load(profiles)
    literal = LiteralSearch([p.text for p in profiles])
    position = {p.registration_id: i for i, p in enumerate(profiles)}
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for target, planted in zip(targets, SEARCH_SET, strict=True):
        for kind, query in planted.queries.items():
            hits, _ = index.search(query, SearchFilters(), 0, 5)
            engine_rank = next((r for r, (rid, _) in enumerate(hits, start=1) if rid == target), None)
            # Said of a miss only: the planted text holds every word too, hence the - 1.
            rivals = None if engine_rank else _holding_every_word(index, query) - 1
            literal_top = literal.top(query, 5)
            literal_rank = next((r for r, i in enumerate(literal_top, start=1)
                                 if i == position[target]), None)
            rows.append({"query": query, "kind": kind, "engine": engine_rank, "literal": literal_rank,
                         "rivals": rivals})
    elapsed = time.perf_counter() - started
    n = len(rows)

    def hit(found: str, k: int, subset: list[dict] | None = None) -> float:
        chosen = rows if subset is None else subset
        return sum(1 for r in chosen if r[found] is not None and r[found] <= k) / max(len(chosen), 1)

    groups: dict[str, list[dict]] = {}
    for r in rows:
        group = r["kind"] if r["kind"] in ("de", "fr", "it", "es", "pl") else "English forms"
        groups.setdefault(group, []).append(r)
    return {
        "queries": n, "hit1": hit("engine", 1), "hit5": hit("engine", 5),
        "literal_hit1": hit("literal", 1), "literal_hit5": hit("literal", 5),
        "by_group": {g: (len(rs), hit("engine", 5, rs), hit("literal", 5, rs)) for g, rs in groups.items()},
        "misses": [r for r in rows if r["engine"] is None],
        "seconds": elapsed,
    }


# ---- report ---------------------------------------------------------------------------------------------


def _holding_every_word(index: MatchIndex, query: str) -> int:
    """How many texts of the catalogue hold every word of the query (any of its forms)."""
    text = index._text
    every = np.ones(index._n, bool)
    for alternatives in text.query_terms(query):
        every &= text.bm25([alternatives], index._n) > 0
    return int(every.sum())


def _verdict(ok: bool, size: int) -> str:
    if ok:
        return "pass"
    return "FAIL" if size <= TARGET_SIZE else f"below (the targets are for {TARGET_SIZE:,})"


def report_matching(r: dict[str, Any], size: int) -> bool:
    """Prints the figures; whether they meet the targets where the targets apply."""
    recall = r["recall"]
    print(f"matching quality, {r['pairs']} planted pairs, each with 3 decoys")
    ok = recall[1] >= TARGETS["recall_at_1"]
    print(f"  recall@1 / @5 / @10        {recall[1]:.3f} / {recall[5]:.3f} / {recall[10]:.3f}   "
          f"target recall@1 >= {TARGETS['recall_at_1']}: {_verdict(ok, size)}")
    print(f"  MRR                        {r['mrr']:.3f}")
    for role, d in r["decoys"].items():
        best = "never in the top 50" if d["best"] is None else f"best rank {d['best']}"
        print(f"  {role:<26} {best}; in a top 5 {d['top5']}x; above the ideal host {d['above_host']}x")
    nodates = r["decoys"]["no_dates"]["best"]
    twin_ok = nodates is None or nodates >= TARGETS["no_dates_best_rank"]
    print(f"  no-dates twin never above rank 5: {_verdict(twin_ok, size)}")
    print("  one-axis decoy's best rank by axis: "
          + ", ".join(f"{a} {'-' if b is None else b}" for a, b in r["axis_best"].items()))
    for match in r["examples"].values():
        print(f"  example {match.registration_id}: score {match.score}")
        for reason in match.fits:
            print(f"    + {reason.detail}")
        for reason in match.does_not_fit:
            print(f"    - {reason.detail}")
    return (ok and twin_ok) or size > TARGET_SIZE


def report_search(r: dict[str, Any], size: int) -> bool:
    """Prints the figures; whether they meet the target where the target applies."""
    print(f"search quality, {r['queries']} queries on planted descriptions with decoys "
          f"(baseline: literal BM25, same run)")
    ok = r["hit5"] >= TARGETS["search_hit_at_5"]
    print(f"  hit@1 / hit@5              {r['hit1']:.3f} / {r['hit5']:.3f}   "
          f"literal {r['literal_hit1']:.3f} / {r['literal_hit5']:.3f}   "
          f"target hit@5 >= {TARGETS['search_hit_at_5']}: {_verdict(ok, size)}")
    for group, (n, engine, lit) in r["by_group"].items():
        print(f"    {group:<24} {n:>3} queries   hit@5 {engine:.2f}   literal {lit:.2f}")
    for miss in r["misses"]:
        print(f"    missed: {miss['query']!r} ({miss['kind']}; {miss['rivals']:,} other texts "
              "hold every word of it)")
    return ok or size > TARGET_SIZE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--pairs", type=int, default=200)
    args = parser.parse_args()
    print(f"Quality benchmark, {args.size:,} registrations, seed {synthetic.SEED}")
    matching_ok = report_matching(measure_matching(args.size, args.pairs), args.size)
    search_ok = report_search(measure_search(args.size), args.size)
    return 0 if matching_ok and search_ok else 1


if __name__ == "__main__":
    sys.exit(main())
