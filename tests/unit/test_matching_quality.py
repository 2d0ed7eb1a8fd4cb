"""What a match says and what search understands: a 0-100 score made of per-factor points, the same
for the same data however it arrived, explanations with both sides in labels, word forms and languages."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import date

import pytest

from services.matching.engine import MatchIndex, Profile, SearchFilters, Weights
from services.matching.language import Analyser, detect
from tests.unit.test_matching_engine import by_id, ids, index_of, misfit, profile, reason

# ---- the score --------------------------------------------------------------------------------------------


def random_profiles(rng: random.Random, count: int, start: int = 0) -> list[Profile]:
    sectors = ["textiles", "digital", "health", "tourism", "renewable_energy", "agri_food"]
    words = ["textile recycling", "solar panels", "wind turbines", "hospital software", "hotel booking",
             "green hydrogen", "electrolysers", "drones", "vineyards", "cheese", "cluster members", "yarn"]
    countries = ["PT", "DE", "FR", "IT", "PL", "NL"]
    found = []
    for i in range(count):
        chosen = rng.sample(sectors, rng.randint(1, 3))
        first = date(2027, rng.randint(1, 12), rng.randint(1, 20))
        found.append(profile(
            f"r{start + i:04d}", rng.choice(["visitor", "host", "visitor+host"]), rng.choice(countries),
            sectors=set(chosen), primary_sector=chosen[0],
            languages=set(rng.sample(["en", "de", "fr", "pl"], rng.randint(1, 2))),
            modes=set(rng.sample(["physical", "virtual"], rng.randint(0, 2))),
            target_countries=set(rng.sample(countries, rng.randint(0, 2))),
            availability=((first, date.fromordinal(first.toordinal() + rng.randint(3, 40))),)
            if rng.random() < 0.9 else (),
            text=". ".join(rng.sample(words, rng.randint(1, 4)))))
    return found


def test_the_same_data_gives_the_same_scores_whatever_the_order_it_arrived_in():
    rng = random.Random(12)
    initial = random_profiles(rng, 120)
    incremental = MatchIndex(merge_min_docs=25)
    current: dict[str, Profile] = {}
    for p in rng.sample(initial, len(initial)):  # one by one, in another order
        incremental.upsert(p)
        current[p.registration_id] = p
    for step in range(150):  # edits, removals and newcomers, crossing automatic merges
        if step % 6 == 0:
            victim = rng.choice(sorted(current))
            incremental.remove(victim)
            del current[victim]
        elif step % 4 == 0:
            newcomer = random_profiles(rng, 1, start=500 + step)[0]
            incremental.upsert(newcomer)
            current[newcomer.registration_id] = newcomer
        else:
            old = current[rng.choice(sorted(current))]
            edited = replace(random_profiles(rng, 1)[0], registration_id=old.registration_id,
                             version=old.version + 1)
            incremental.upsert(edited)
            current[edited.registration_id] = edited
    assert incremental.text_merges >= 2 and incremental.pending_text_changes > 0
    rebuilt = MatchIndex()
    rebuilt.bulk_load(sorted(current.values(), key=lambda p: p.registration_id, reverse=True))
    for registration_id in sorted(current):
        assert incremental.matches(registration_id, 200) == rebuilt.matches(registration_id, 200)
    for query in ("textile recycling", "drone vineyards", "Wasserstoff", "hotel"):
        everything = SearchFilters()
        assert incremental.search(query, everything, 0, 200) == rebuilt.search(query, everything, 0, 200)


def test_contributions_add_up_to_a_score_between_0_and_100():
    profiles = random_profiles(random.Random(3), 80)
    index = index_of(*profiles)
    seen = 0
    for p in profiles:
        for match in index.matches(p.registration_id, 10):
            assert 0.0 <= match.score <= 100.0
            assert round(sum(c.points for c in match.contributions), 1) == match.score
            assert [c.kind for c in match.contributions] == list(Weights.KINDS)
            assert all(c.points <= c.max_points for c in match.contributions)
            seen += 1
    assert seen > 100
    assert sum(Weights().points(kind) for kind in Weights.KINDS) == pytest.approx(100.0)


def test_a_pair_scores_the_same_whatever_else_is_indexed():
    pair = [profile("v", text="textile recycling of old garments"),
            profile("h", "host", "DE", text="we recycle textiles into yarn")]
    alone = index_of(*pair).matches("v")[0]
    crowded = index_of(*pair, *random_profiles(random.Random(5), 200)).score("v", "h")
    assert crowded == alone


def test_no_common_dates_is_a_penalty_and_is_said():
    index = index_of(
        profile("v"),
        profile("h-dates", "host", "DE"),
        profile("h-unknown", "host", "FR", availability=()),
        profile("h-none-common", "host", "IT", availability=((date(2027, 9, 1), date(2027, 9, 30)),)),
    )
    matches = by_id(index.matches("v"))
    assert ids(index.matches("v")) == ["h-dates", "h-unknown", "h-none-common"]
    penalty = next(c for c in matches["h-none-common"].contributions if c.kind == "availability")
    assert penalty.points == -penalty.max_points
    assert misfit(matches["h-none-common"], "availability").detail == (
        "No common dates: you are available 2027-03-01 to 2027-03-31; "
        "they are available 2027-09-01 to 2027-09-30.")
    assert misfit(matches["h-unknown"], "availability") is None


def test_a_different_main_sector_costs_points_and_is_said():
    index = index_of(
        profile("v", sectors={"textiles", "digital"}, primary_sector="textiles"),
        profile("same-main", "host", "DE", sectors={"textiles", "digital"}, primary_sector="textiles"),
        profile("other-main", "host", "FR", sectors={"textiles", "digital"}, primary_sector="digital"),
    )
    matches = by_id(index.matches("v"))
    assert matches["same-main"].score > matches["other-main"].score
    assert reason(matches["same-main"], "primary_sector").detail == "Same main sector: Textiles."
    assert misfit(matches["other-main"], "primary_sector").detail == (
        "Different main sectors: yours is Textiles, theirs is Digital.")


def test_what_does_not_fit_is_said_with_labels_never_codes():
    index = index_of(
        profile("v", sectors={"agri_food"}, languages={"de"}, modes={"physical"}, target_countries={"FR"},
                objectives={"learn"}, activity_types={"networking"}),
        profile("h", "host", "NL", sectors={"mobility_transport_automotive"}, languages={"sr", "pl"},
                modes={"virtual"}, target_countries={"IT", "ES"}, objectives={"explore_markets"},
                activity_types={"market_research"}),
    )
    match = index.matches("v")[0]
    details = {r.kind: r.detail for r in match.does_not_fit}
    assert details == {
        "sectors": "No sector in common: you work in Agri-food; "
                   "they work in Mobility, transport & automotive.",
        "primary_sector": "Different main sectors: yours is Agri-food, "
                          "theirs is Mobility, transport & automotive.",
        "objectives": "No objective in common: yours are Learn from another cluster or country; "
                      "theirs are Explore new markets.",
        "activity_types": "No activity type in common: you want networking; they want market research.",
        "languages": "No common language: you work in German; they work in Polish and Serbian.",
        "country_preference": "Netherlands is not one of your target countries (France); "
                              "they look for partners from Italy or Spain, not Portugal.",
        "mode": "No exchange mode acceptable to both: you want physical; they want virtual.",
    }
    codes = re.compile(r"\b(agri_food|mobility_transport_automotive|NL|FR|IT|ES|PT|de|sr|pl)\b")
    for reason_ in (*match.fits, *match.does_not_fit):
        assert not codes.search(reason_.detail), reason_.detail
    assert match.does_not_fit[0].kind == "sectors"  # the costliest first


def test_text_reasons_are_distinctive_phrases_never_filler():
    index = index_of(
        profile("v", text="Our cluster members are companies based in the region, focused on innovation. "
                          "We build heat pumps for timber houses."),
        profile("filler", "host", "DE", text="Cluster of member companies, based and focused on regional "
                                             "innovation and international cooperation."),
        profile("pumps", "host", "FR", text="Installer of heat pumps; cluster members are companies."),
    )
    matches = by_id(index.matches("v"))
    assert reason(matches["filler"], "text") is None
    text_points = next(c for c in matches["filler"].contributions if c.kind == "text")
    assert text_points.points == 0.0
    assert reason(matches["pumps"], "text").values == ("heat pumps",)
    assert reason(matches["pumps"], "text").detail == "Both descriptions mention “heat pumps”."


def test_the_same_notion_in_two_languages_is_shared_text():
    index = index_of(profile("v", text="We produce green hydrogen with electrolysers."),
                     profile("h", "host", "DE", text="Wir entwickeln Elektrolyseure für grünen Wasserstoff."))
    shared = reason(index.matches("v")[0], "text")
    assert shared is not None and "Wasserstoff" in " ".join(shared.values)


# ---- search --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue() -> MatchIndex:
    texts = {
        "electrolysers": "We design PEM electrolysers for green hydrogen.",
        "drones": "Drones that map vineyards.",
        "textile-recycling": "Textile recycling: used garments become new yarn.",
        "apart": "Textile design studio. Later we also started paper recycling for offices.",
        "heat-pumps": "Heat pumps for timber houses.",
        "hotel": "Hotel booking software.",
        "de-drones": "Wir entwickeln Drohnen für Windkraftanlagen.",
    }
    return index_of(*(profile(rid, text=text) for rid, text in texts.items()))


@pytest.mark.parametrize(("query", "expected"), [
    ("electrolyser", "electrolysers"),
    ("electrolysers", "electrolysers"),
    ("drone", "drones"),
    ("vineyard", "drones"),
    ("recycle textiles", "textile-recycling"),
    ("textiles recycling", "textile-recycling"),
    ("heat pump", "heat-pumps"),
    ("Wasserstoff", "electrolysers"),
    ("électrolyseur", "electrolysers"),
    ("elettrolizzatore", "electrolysers"),
    ("electrolizador hidrógeno", "electrolysers"),
    ("wodór", "electrolysers"),
    ("riciclo tessile", "textile-recycling"),
    ("reciclaje textil", "textile-recycling"),
    ("recykling tekstyliów", "textile-recycling"),
    ("pompe à chaleur", "heat-pumps"),
    ("Wärmepumpen", "heat-pumps"),
    ("Weinberg", "drones"),
    ("wind turbines", "de-drones"),
])
def test_search_understands_word_forms_order_and_languages(catalogue, query, expected):
    hits, total = catalogue.search(query, SearchFilters(), 0, 3)
    assert hits and hits[0][0] == expected, (query, hits)


def test_words_side_by_side_rank_above_the_same_words_apart(catalogue):
    hits, _ = catalogue.search("recycling textile", SearchFilters(), 0, 5)
    found = [rid for rid, _ in hits]
    assert found.index("textile-recycling") < found.index("apart")


def test_search_pages_never_overlap_after_the_proximity_rerank():
    profiles = [profile(f"p{i:03d}", text=f"textile recycling {'yarn ' * (i % 7)} paper") for i in range(150)]
    index = index_of(*profiles)
    pages = [index.search("recycle textile", SearchFilters(), offset, 40)[0] for offset in (0, 40, 80, 120)]
    seen = [rid for page in pages for rid, _ in page]
    assert len(seen) == len(set(seen)) == 150


def test_function_words_and_filler_find_nothing(catalogue):
    assert catalogue.search("the and of", SearchFilters(), 0, 5) == ([], 0)


# ---- language -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "language"), [
    ("Wir entwickeln Drohnen für die Inspektion von Windkraftanlagen.", "de"),
    ("Nous concevons des capteurs connectés pour surveiller les vignobles.", "fr"),
    ("Progettiamo elettrolizzatori per la produzione di idrogeno verde.", "it"),
    ("Diseñamos electrolizadores para la producción de hidrógeno verde.", "es"),
    ("Projektujemy elektrolizery do produkcji zielonego wodoru.", "pl"),
    ("We design electrolysers for green hydrogen production.", "en"),
])
def test_the_language_of_a_text_is_detected(text, language):
    assert detect(text) == language


def test_a_text_gives_the_same_terms_in_every_analyser():
    text = "Projektujemy elektrolizery do produkcji zielonego wodoru."
    assert Analyser().terms(text) == Analyser().terms(text) == Analyser().analyse(text).terms()
    assert "c:electrolyser" in Analyser().terms(text) and "c:hydrogen" in Analyser().terms(text)
