"""Distance between organisations: coordinates first, else the offline gazetteer."""

from __future__ import annotations

import pytest

from services.payments.distance import Gazetteer, Location, Point, distance_km, fold, great_circle_km


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer()


def test_great_circle_distance_lisbon_porto():
    # Lisbon–Porto is about 274 km as the crow flies.
    assert great_circle_km(Point(38.72509, -9.1498), Point(41.1485, -8.61097)) == pytest.approx(274, abs=2)


def test_same_point_is_zero_and_antipodes_half_the_earth():
    assert great_circle_km(Point(10, 10), Point(10, 10)) == 0
    assert great_circle_km(Point(0, 0), Point(0, 180)) == pytest.approx(20015, rel=0.001)


@pytest.mark.parametrize("name,folded", [("Saint-Étienne", "saint etienne"), ("München", "munchen"),
                                         ("Łódź", "lodz"), ("  Den   Haag ", "den haag"),
                                         ("KØBENHAVN", "kobenhavn")])
def test_names_are_folded(name, folded):
    assert fold(name) == folded


def test_cities_are_found_with_accents_folded_and_alternate_names(gazetteer):
    munich = gazetteer.locate("München", "DE")
    assert munich == gazetteer.locate("munchen", "de") == gazetteer.locate("Munich", "DE")
    assert munich.latitude == pytest.approx(48.14, abs=0.05)
    assert gazetteer.locate("Lisboa", "PT") == gazetteer.locate("Lisbon", "PT")


def test_the_country_must_match(gazetteer):
    # There is a Porto in Brazil too; Portugal's is at 41° N.
    assert gazetteer.locate("Porto", "PT").latitude == pytest.approx(41.15, abs=0.05)
    assert gazetteer.locate("Lisbon", "ES") is None


def test_the_most_populous_place_of_a_name_wins(gazetteer):
    # "Frankfurt" names both Frankfurt am Main and Frankfurt (Oder): the larger one, at 8.7° E.
    assert gazetteer.locate("Frankfurt", "DE").longitude == pytest.approx(8.68, abs=0.05)


def test_unknown_city_is_none(gazetteer):
    assert gazetteer.locate("Nowhere-sur-Rien", "FR") is None
    assert gazetteer.locate("", "FR") is None


def test_registration_coordinates_win_over_the_city(gazetteer):
    lisbon_by_coordinates = Location("PT", "Porto", 38.72509, -9.1498)
    lisbon_by_city = Location("PT", "Lisbon")
    assert distance_km(lisbon_by_coordinates, lisbon_by_city, gazetteer) == pytest.approx(0, abs=1)


def test_distance_between_two_cities(gazetteer):
    km = distance_km(Location("PT", "Lisboa"), Location("PT", "Porto"), gazetteer)
    assert km == pytest.approx(274, abs=3)


def test_distance_is_unknown_when_either_place_is_unknown(gazetteer):
    assert distance_km(Location("PT", "Lisboa"), Location("PT", "Atlantis"), gazetteer) is None
    assert distance_km(Location("PT", None), Location("PT", "Porto"), gazetteer) is None
    # One coordinate alone is not a position.
    assert distance_km(Location("PT", None, 38.7, None), Location("PT", "Porto"), gazetteer) is None


def test_only_shipped_gazetteer_sizes():
    with pytest.raises(ValueError):
        Gazetteer(min_population=1234)


def test_only_participating_countries_are_indexed(gazetteer):
    assert gazetteer.locate("Toronto", "CA") is None
    assert gazetteer.locate("London", "GB") is not None  # a former participant keeps its places
