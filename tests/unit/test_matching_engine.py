"""The in-memory match and search index: hard rules, mutual explained scores, search, consistency."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

import pytest

from services.matching.engine import Match, MatchIndex, Profile, Reason, SearchFilters, Weights

MARCH = ((date(2027, 3, 1), date(2027, 3, 31)),)


def profile(rid: str, roles: str = "visitor", country: str = "PT", **changes) -> Profile:
    base = Profile(
        registration_id=rid, version=1, roles=frozenset(roles.split("+")), country=country,
        organisation_type="cluster_organisation", sectors=frozenset({"textiles"}),
        objectives=frozenset({"learn"}), activity_types=frozenset({"knowledge_sharing"}),
        languages=frozenset({"en"}), modes=frozenset({"physical"}), availability=MARCH,
    )
    return replace(base, **{k: frozenset(v) if isinstance(v, set) else v for k, v in changes.items()})


def index_of(*profiles: Profile, **kwargs) -> MatchIndex:
    index = MatchIndex(**kwargs)
    index.bulk_load(profiles)
    return index


def ids(matches: list[Match]) -> list[str]:
    return [m.registration_id for m in matches]


def by_id(matches: list[Match]) -> dict[str, Match]:
    return {m.registration_id: m for m in matches}


def reason(match: Match, kind: str) -> Reason | None:
    """What fits, of one kind."""
    return next((r for r in match.fits if r.kind == kind), None)


def misfit(match: Match, kind: str) -> Reason | None:
    return next((r for r in match.does_not_fit if r.kind == kind), None)


# ---- hard rules -------------------------------------------------------------------------------------


def test_same_country_is_never_matched():
    index = index_of(profile("v", country="PT"), profile("h-pt", "host", "PT"), profile("h-de", "host", "DE"))
    assert ids(index.matches("v")) == ["h-de"]
    assert ids(index.matches("h-pt")) == []


def test_only_the_other_side_is_proposed_and_labelled():
    index = index_of(profile("v", country="PT"), profile("v2", country="DE"), profile("h", "host", "DE"),
                     profile("both", "visitor+host", "FR"))
    assert {(m.registration_id, m.side) for m in index.matches("v")} == {("h", "host"), ("both", "host")}
    assert {(m.registration_id, m.side) for m in index.matches("h")} == {("v", "visitor"),
                                                                          ("both", "visitor")}
    sides = {m.registration_id: m.side for m in index.matches("both")}
    assert sides == {"v": "visitor", "v2": "visitor", "h": "host"}


def test_a_candidate_that_could_play_both_sides_appears_once_as_host():
    index = index_of(profile("a", "visitor+host", "PT"), profile("b", "visitor+host", "DE"))
    assert [(m.registration_id, m.side) for m in index.matches("a")] == [("b", "host")]


def test_visitor_who_already_visited_is_not_proposed():
    index = index_of(profile("v", country="PT", has_visited=True), profile("v2", country="FR"),
                     profile("h", "host", "DE"))
    assert ids(index.matches("h")) == ["v2"]
    assert index.matches("v") == []  # nor offered hosts: it cannot visit again
    index.mark_visited("v2")
    assert index.matches("h") == []
    index.mark_visited("unknown")  # ignored


def test_host_without_capacity_is_not_proposed():
    index = index_of(profile("v", country="PT"), profile("full", "host", "DE", host_capacity=0),
                     profile("h", "host", "FR"))
    assert ids(index.matches("v")) == ["h"]
    index.set_host_capacity("h", 0)
    assert index.matches("v") == []
    index.set_host_capacity("full", 2)
    assert ids(index.matches("v")) == ["full"]


def test_unknown_registration_raises_key_error():
    index = index_of(profile("v"))
    with pytest.raises(KeyError):
        index.matches("nope")
    assert "v" in index and "nope" not in index and len(index) == 1


def test_matches_come_in_pages_with_the_total():
    index = index_of(profile("v"), *(profile(f"h{i}", "host", "DE") for i in range(7)))
    everything = [m.registration_id for m in index.matches("v", limit=50)]
    first, total = index.match_page("v", 0, 3)
    third, _ = index.match_page("v", 6, 3)
    assert total == 7 and len(everything) == 7
    assert [m.registration_id for m in first] == everything[:3]
    assert [m.registration_id for m in third] == everything[6:]
    assert index.match_page("v", 9, 3) == ([], 7)


def test_limit_is_respected():
    index = index_of(profile("v"), *(profile(f"h{i}", "host", "DE") for i in range(5)))
    assert len(index.matches("v", limit=3)) == 3
    assert index.matches("v", limit=0) == []


# ---- versions, updates, removals ----------------------------------------------------------------------


def test_stale_and_duplicate_versions_are_ignored():
    index = index_of(profile("v", version=3), profile("h", "host", "DE"))
    assert index.upsert(profile("v", version=2, country="DE")) is False
    assert index.upsert(profile("v", version=3, country="DE")) is False
    assert ids(index.matches("v")) == ["h"]  # still PT
    assert index.upsert(profile("v", version=4, country="DE")) is True
    assert index.matches("v") == []


def test_bulk_load_keeps_the_newest_version_of_a_duplicate():
    index = index_of(profile("v", version=2, country="DE"), profile("v", version=1),
                     profile("h", "host", "FR"))
    assert len(index) == 2
    assert index.upsert(profile("v", version=2)) is False


def test_update_changes_results_and_reasons():
    index = index_of(profile("v", sectors={"digital"}), profile("h1", "host", "DE", sectors={"digital"}),
                     profile("h2", "host", "FR", sectors={"health"}))
    assert ids(index.matches("v"))[0] == "h1"
    assert index.upsert(profile("v", version=2, sectors={"health"}))
    first = index.matches("v")[0]
    assert first.registration_id == "h2"
    assert reason(first, "sectors").values == ("health",)


def test_remove_takes_a_registration_out_of_matches_and_search():
    index = index_of(profile("v", text="circular textiles"), profile("h", "host", "DE", text="circular yarn"),
                     profile("h2", "host", "FR", text="circular denim"))
    assert index.remove("h") is True
    assert index.remove("h") is False
    assert "h" not in index and len(index) == 2
    assert ids(index.matches("v")) == ["h2"]
    hits, total = index.search("circular", SearchFilters())
    assert total == 2 and {rid for rid, _ in hits} == {"v", "h2"}
    # the freed slot is reused by a newcomer, without leftovers of the removed one
    assert index.upsert(profile("new", "host", "ES", text="leather"))
    assert index.search("yarn", SearchFilters()) == ([], 0)
    assert index.search("leather", SearchFilters())[0][0][0] == "new"


def test_growth_beyond_initial_capacity_keeps_everything():
    index = MatchIndex()
    for i in range(2500):
        index.upsert(profile(f"r{i:04d}", "host" if i % 2 else "visitor", "DE" if i % 3 else "FR",
                             text=f"word{i % 7} cluster"))
    assert len(index) == 2500
    assert all(m.side == "host" for m in index.matches("r0000", limit=50))
    assert index.search("word3", SearchFilters())[1] == len([i for i in range(2500) if i % 7 == 3])


# ---- scores and reasons -------------------------------------------------------------------------------


def test_score_is_mutual_and_symmetric():
    index = index_of(
        profile("v", sectors={"textiles"}),
        profile("mutual", "host", "DE", sectors={"textiles"}),
        # covers all the visitor wants, but the visitor covers a quarter of what this host wants
        profile("one-sided", "host", "FR", sectors={"textiles", "digital", "health", "tourism"}),
    )
    scores = {m.registration_id: m.score for m in index.matches("v")}
    assert scores["mutual"] > scores["one-sided"]
    assert 0 < scores["one-sided"] < 100 and 0 < scores["mutual"] <= 100
    back = {m.registration_id: m.score for m in index.matches("one-sided")}
    assert back["v"] == pytest.approx(scores["one-sided"], abs=1e-5)


def test_both_directions_of_country_preference_count():
    index = index_of(
        profile("v", target_countries={"DE", "FR"}),
        profile("h-de", "host", "DE", target_countries={"PT"}),
        profile("h-fr", "host", "FR", target_countries={"IT"}),
        profile("h-it", "host", "IT", target_countries={"PT"}),
    )
    matches = index.matches("v")
    scores = {m.registration_id: m.score for m in matches}
    assert scores["h-de"] > scores["h-fr"] and scores["h-de"] > scores["h-it"]
    assert reason(by_id(matches)["h-de"], "country_preference").values == ("DE", "PT")
    assert reason(by_id(matches)["h-fr"], "country_preference").values == ("FR",)
    assert reason(by_id(matches)["h-it"], "country_preference").values == ("PT",)


def test_a_perfect_fit_scores_100_and_reasons_explain_it():
    me = profile("v", sectors={"textiles", "digital"}, primary_sector="textiles",
                 objectives={"learn", "explore_markets"}, activity_types={"networking"},
                 languages={"pt", "en"}, target_countries={"DE"},
                 text="circular textile recycling with digital twins")
    index = index_of(me, replace(me, registration_id="h", roles=frozenset({"host"}), country="DE",
                                 target_countries=frozenset({"PT"})))
    match = index.matches("v")[0]
    assert match.score == 100.0
    assert match.does_not_fit == ()
    assert all(c.points == c.max_points for c in match.contributions)
    kinds = {r.kind: r for r in match.fits}
    assert set(kinds) == {"sectors", "primary_sector", "objectives", "activity_types", "availability",
                          "languages", "country_preference", "mode", "text"}
    assert kinds["sectors"].values == ("digital", "textiles")
    assert kinds["sectors"].detail == "Both work in Digital and Textiles."
    assert kinds["objectives"].values == ("explore_markets", "learn")
    assert kinds["languages"].values == ("en", "pt")
    assert kinds["languages"].detail == "Common languages: English and Portuguese."
    assert kinds["primary_sector"].detail == "Same main sector: Textiles."
    assert kinds["country_preference"].detail == (
        "Germany is one of your target countries; they look for partners from Portugal.")
    assert kinds["activity_types"].detail == "Both want networking."
    assert kinds["availability"].values == ("2027-03-01", "2027-03-31")
    assert "31 days" in kinds["availability"].detail
    assert kinds["mode"].values == ("physical",)
    assert kinds["text"].values == ("circular textile recycling with digital twins",)
    assert match.fits[0].kind == "availability"  # heaviest weight first


def test_reasons_only_name_what_is_shared():
    index = index_of(
        profile("v", sectors={"textiles", "health"}, languages={"pt"}, modes={"physical"},
                availability=((date(2027, 3, 1), date(2027, 3, 10)), (date(2027, 5, 1), date(2027, 5, 5)))),
        profile("h", "host", "DE", sectors={"health", "digital"}, languages={"de"}, modes={"virtual"},
                availability=((date(2027, 3, 8), date(2027, 5, 2)),)),
    )
    match = index.matches("v")[0]
    assert reason(match, "sectors").values == ("health",)
    assert reason(match, "languages") is None
    assert reason(match, "mode") is None
    assert reason(match, "country_preference") is None
    assert reason(match, "availability").values == ("2027-03-08", "2027-03-10", "2027-05-01", "2027-05-02")


def test_empty_modes_accept_both_and_incompatible_modes_score_lower():
    index = index_of(profile("v", modes={"virtual"}), profile("any", "host", "DE", modes=set()),
                     profile("physical", "host", "FR", modes={"physical"}))
    matches = by_id(index.matches("v"))
    assert reason(matches["any"], "mode").values == ("virtual",)
    assert matches["any"].score > matches["physical"].score


def test_availability_overlap_and_many_windows():
    windows = tuple((date(2027, m, 1), date(2027, m, 3)) for m in range(1, 8))  # seven windows
    index = index_of(profile("v", availability=windows),
                     profile("h-july", "host", "DE", availability=((date(2027, 7, 1), date(2027, 7, 20)),)),
                     profile("h-dec", "host", "FR", availability=((date(2027, 12, 1), date(2027, 12, 20)),)))
    matches = by_id(index.matches("v"))
    assert reason(matches["h-july"], "availability").values == ("2027-07-01", "2027-07-03")
    assert reason(matches["h-dec"], "availability") is None
    assert matches["h-july"].score > matches["h-dec"].score
    back = by_id(index.matches("h-july"))
    assert back["v"].score == pytest.approx(matches["h-july"].score, abs=1e-5)
    june = SearchFilters(available_from=date(2027, 6, 2), available_to=date(2027, 6, 2))
    hits, _ = index.search(None, june)
    assert hits == [("v", 0.0)]


def test_text_similarity_ranks_the_same_topic_first():
    index = index_of(
        profile("v", text="recycling of textile fibres and circular fashion"),
        profile("same", "host", "DE", text="we recycle textile fibres into circular fashion garments"),
        profile("other", "host", "FR", text="satellite propulsion and avionics certification"),
    )
    matches = index.matches("v")
    assert ids(matches) == ["same", "other"]
    assert reason(matches[0], "text").values == ("recycle textile fibres into circular fashion garments",)
    assert reason(matches[1], "text") is None


def test_weights_are_configuration():
    profiles = (profile("v", sectors={"digital"}, languages={"fr"}),
                profile("sector", "host", "DE", sectors={"digital"}, languages={"de"}),
                profile("language", "host", "FR", sectors={"health"}, languages={"fr"}))
    assert ids(index_of(*profiles).matches("v"))[0] == "sector"
    languages_first = Weights(sectors=0.5, primary_sector=0.0, languages=30.0)
    assert ids(index_of(*profiles, weights=languages_first).matches("v"))[0] == "language"
    with pytest.raises(ValueError):
        Weights(sectors=-1)


def test_ties_are_broken_by_registration_id():
    hosts = [profile(f"h{i}", "host", "DE") for i in (3, 1, 2, 0)]
    index = index_of(profile("v"), *hosts)
    assert ids(index.matches("v", limit=3)) == ["h0", "h1", "h2"]


def test_codes_never_seen_and_more_than_64_of_them():
    languages = [f"l{i:02d}" for i in range(70)]
    index = index_of(profile("v", languages={"l69"}, sectors={"space_mining"}),
                     *(profile(f"h{i}", "host", "DE", languages={code}) for i, code in enumerate(languages)),
                     profile("miner", "host", "FR", languages={"l69"}, sectors={"space_mining"}))
    first = index.matches("v")[0]
    assert first.registration_id == "miner"
    assert reason(first, "languages").values == ("l69",)
    assert reason(first, "sectors").values == ("space_mining",)
    assert index.search(None, SearchFilters(language="l69"))[1] == 3


# ---- search -------------------------------------------------------------------------------------------


def catalogue() -> list[Profile]:
    return [
        profile("a", "visitor", "PT", text="Textile cluster working on circular fashion and recycling",
                sectors={"textiles"}, languages={"pt", "en"}, activity_types={"networking"},
                organisation_type="sme", modes={"physical"}),
        profile("b", "host", "DE", text="Automotive suppliers and electric mobility", sectors={"mobility"},
                languages={"de"}, activity_types={"market_research"}, modes={"virtual"},
                availability=((date(2027, 6, 1), date(2027, 6, 30)),)),
        profile("c", "visitor+host", "FR", text="Recycling of batteries for electric vehicles",
                sectors={"mobility", "energy"}, languages={"fr", "en"}, modes=set(),
                activity_types={"networking", "project_development"}),
        profile("d", "host", "PT", text="Circular textile recycling plant, textile waste sorting",
                sectors={"textiles"}, languages={"pt"}, organisation_type="sme", modes={"physical"}),
    ]


def test_search_ranks_documents_with_the_query_terms():
    index = index_of(*catalogue())
    hits, total = index.search("textile recycling", SearchFilters())
    assert total == 3  # b mentions neither word
    assert [rid for rid, _ in hits][:2] == ["d", "a"]  # both terms (d twice) beat one term
    assert hits[2][0] == "c"
    assert all(score > 0 for _, score in hits)
    assert index.search("spaceship", SearchFilters()) == ([], 0)
    assert index.search("the and of", SearchFilters()) == ([], 0)  # stop words only


@pytest.mark.parametrize(("filters", "expected"), [
    (SearchFilters(role="visitor"), {"a", "c"}),
    (SearchFilters(role="host"), {"b", "c", "d"}),
    (SearchFilters(country="PT"), {"a", "d"}),
    (SearchFilters(country="XX"), set()),
    (SearchFilters(sector="mobility"), {"b", "c"}),
    (SearchFilters(organisation_type="sme"), {"a", "d"}),
    (SearchFilters(activity_type="networking"), {"a", "c"}),
    (SearchFilters(language="en"), {"a", "c"}),
    (SearchFilters(mode="virtual"), {"b", "c"}),
    (SearchFilters(available_from=date(2027, 6, 10)), {"b"}),
    (SearchFilters(available_to=date(2027, 3, 1)), {"a", "c", "d"}),
    (SearchFilters(available_from=date(2027, 4, 1), available_to=date(2027, 5, 1)), set()),
    (SearchFilters(exclude_ids=frozenset({"a", "b"})), {"c", "d"}),
    (SearchFilters(role="host", country="PT", sector="textiles"), {"d"}),
])
def test_every_filter_applies_with_and_without_text(filters, expected):
    index = index_of(*catalogue())
    hits, total = index.search(None, filters)
    assert {rid for rid, _ in hits} == expected and total == len(expected)
    text_hits, _ = index.search("recycling", filters)
    assert {rid for rid, _ in text_hits} == expected & {"a", "c", "d"}


def test_search_without_text_pages_in_insertion_order():
    profiles = [profile(f"r{i:02d}", country="DE" if i % 2 else "PT") for i in range(25)]
    index = index_of(*reversed(profiles))
    everything = [rid for rid, _ in index.search(None, SearchFilters(), limit=100)[0]]
    assert everything == [p.registration_id for p in reversed(profiles)]
    page, total = index.search(None, SearchFilters(country="DE"), offset=5, limit=4)
    assert total == 12
    assert [rid for rid, _ in page] == ["r13", "r11", "r09", "r07"]
    assert index.search("", SearchFilters(), offset=24, limit=10)[0] == [("r00", 0.0)]
    assert index.search(None, SearchFilters(), offset=30) == ([], 25)


def test_search_with_text_pages_by_relevance():
    profiles = [profile(f"r{i:02d}", text="solar " * (1 + i % 4) + "cluster " * 6) for i in range(20)]
    index = index_of(*profiles)
    ranked, total = index.search("solar", SearchFilters(), limit=20)
    assert total == 20
    scores = [s for _, s in ranked]
    assert scores == sorted(scores, reverse=True)
    pages = [index.search("solar", SearchFilters(), offset=o, limit=6)[0] for o in (0, 6, 12, 18)]
    assert [hit for page in pages for hit in page] == ranked
    tied = [rid for rid, s in ranked if s == scores[0]]
    assert tied == sorted(tied)


# ---- consistency of the text delta --------------------------------------------------------------------


def random_profiles(rng: random.Random, count: int, start: int = 0) -> list[Profile]:
    words = ["textile", "recycling", "solar", "wind", "battery", "hospital", "tourism", "hotel", "software",
             "cloud", "yarn", "steel"]
    countries = ["PT", "DE", "FR", "IT", "PL"]
    sectors = ["textiles", "digital", "health", "tourism", "renewable_energy"]
    return [
        profile(f"r{start + i:04d}", rng.choice(["visitor", "host", "visitor+host"]), rng.choice(countries),
                sectors=set(rng.sample(sectors, rng.randint(1, 2))),
                target_countries=set(rng.sample(countries, rng.randint(0, 2))),
                text=" ".join(rng.choices(words, k=rng.randint(3, 12))))
        for i in range(count)
    ]


def snapshot(index: MatchIndex, ids_: list[str]) -> tuple:
    matches = [index.matches(r, 10) for r in ids_]
    searches = [index.search(q, SearchFilters(), limit=15) for q in ("textile solar", "hotel", "steel cloud")]
    searches = [([(rid, round(s, 5)) for rid, s in hits], total) for hits, total in searches]
    return matches, searches, index.search(None, SearchFilters(role="host"), limit=500)


def test_delta_and_merges_give_the_same_results_as_a_fresh_bulk_load():
    rng = random.Random(7)
    initial = random_profiles(rng, 150)
    index = MatchIndex(merge_min_docs=30)
    index.bulk_load(initial)
    current = {p.registration_id: p for p in initial}
    for step in range(120):  # edits, removals and newcomers, crossing two automatic merges
        if step % 5 == 0:
            victim = rng.choice(sorted(current))
            index.remove(victim)
            del current[victim]
        elif step % 3 == 0:
            newcomer = random_profiles(rng, 1, start=1000 + step)[0]
            index.upsert(newcomer)
            current[newcomer.registration_id] = newcomer
        else:
            old = current[rng.choice(sorted(current))]
            edited = replace(random_profiles(rng, 1)[0], registration_id=old.registration_id,
                             version=old.version + 1)
            assert index.upsert(edited)
            current[edited.registration_id] = edited
    assert index.text_merges >= 2
    assert index.pending_text_changes > 0  # part of the changes still sits in the delta
    fresh = MatchIndex()
    fresh.bulk_load(current.values())  # dict order = insertion order of the incremental index
    probe = sorted(current)[::7]
    assert snapshot(index, probe) == snapshot(fresh, probe)  # scores depend on no history
    index.compact()
    assert index.pending_text_changes == 0
    assert snapshot(index, probe) == snapshot(fresh, probe)
    assert len(index) == len(fresh) == len(current)


def test_memory_estimate_grows_with_content():
    small = index_of(*random_profiles(random.Random(1), 10))
    large = index_of(*random_profiles(random.Random(1), 3000))
    assert 0 < small.memory_bytes() < large.memory_bytes()


def test_common_days_summed_pairwise_equal_the_prefix_count_with_overflow_windows():
    from services.matching.columns import Windows, merged_windows

    rng = random.Random(3)

    def some_windows(count: int) -> list[tuple[int, int]]:
        starts = (date(2027, 1, 1).toordinal() + rng.randrange(365) for _ in range(count))
        return merged_windows((date.fromordinal(s), date.fromordinal(s + rng.randrange(60))) for s in starts)

    windows = Windows(400)
    windows.set_many([some_windows(rng.randrange(7)) for _ in range(400)])
    assert windows.overflow  # some slots keep windows past the inline ones
    for count in (1, 3, 6, 9):  # up to 6 summed pairwise, beyond by the prefix count
        mine = some_windows(count)
        pairwise = windows.common_days(mine, 400)
        assert pairwise.tolist() == windows._common_days_by_prefix(mine, 400).tolist()
        expected = [sum(max(0, min(a_end, b_end) - max(a_start, b_start) + 1)
                        for a_start, a_end in mine for b_start, b_end in windows.get(slot))
                    for slot in range(400)]
        assert pairwise.tolist() == expected


def test_the_text_index_gives_a_documents_terms_back_without_its_text():
    from services.matching.text import TextIndex

    def same_terms(slot: int, text: str) -> bool:
        stored, analysed = text_index.doc_terms(slot), text_index.terms(text)
        return [a.tolist() for a in stored] == [a.tolist() for a in analysed]

    texts = ["Hydrogen electrolysers for ports", "Textile recycling and hydrogen", "Wine tourism"]
    text_index = TextIndex()
    text_index.build(texts, 8)
    assert all(same_terms(slot, text) for slot, text in enumerate(texts))  # from the main matrix
    hydrogen_df = text_index.df.copy()
    text_index.remove(0)  # the main matrix's postings are zeroed, found without the text
    assert text_index.similarity(1, 3)[0] == 0.0
    assert (text_index.df <= hydrogen_df).all() and text_index.df.sum() < hydrogen_df.sum()
    assert text_index.doc_terms(0)[0].size == 0
    text_index.add(0, "Drones for vineyards")  # into the delta
    assert same_terms(0, "Drones for vineyards")
    text_index.remove(0)
    assert text_index.df.sum() < hydrogen_df.sum() and text_index.doc_terms(0)[0].size == 0
    text_index.add(0, "Hydrogen for ports")
    text_index.merge()  # back in the main matrix: positions rebuilt
    assert same_terms(0, "Hydrogen for ports")
    assert text_index.similarity(1, 3)[0] > 0.0
    assert text_index.similarity(2, 3) is not None and text_index.similarity(2, 3)[0] == 0.0
