"""The gazetteer as a nameko dependency: one per process, parsed off the hub on first need.

Parsing the GeoNames extract takes about a second of CPU; it runs in eventlet's thread pool
so the other workers keep going, and only once per process (every container shares it). It
is needed only for an organisation registered without coordinates.
"""

from __future__ import annotations

from typing import Any

import eventlet
from eventlet import tpool
from nameko.extensions import DependencyProvider

from services.payments.distance import DEFAULT_MIN_POPULATION, Gazetteer, Location, distance_km

_gazetteers: dict[int, Gazetteer] = {}
_loading = eventlet.semaphore.Semaphore()


def _gazetteer(min_population: int) -> Gazetteer:
    with _loading:  # one green thread parses; Gazetteer's own lock is then never contended
        gazetteer = _gazetteers.get(min_population)
        if gazetteer is None:
            gazetteer = Gazetteer(min_population)
            tpool.execute(gazetteer._load)
            _gazetteers[min_population] = gazetteer
        return gazetteer


def location_of(profile: dict[str, Any] | None) -> Location | None:
    """Where a registration's organisation is, from its public profile."""
    if not profile:
        return None
    org = profile.get("organisation") or {}
    if not org.get("country"):
        return None
    return Location(org["country"], org.get("city"), org.get("latitude"), org.get("longitude"))


def _placed(location: Location) -> bool:
    return location.latitude is not None and location.longitude is not None


class Places:
    def __init__(self, min_population: int) -> None:
        self.min_population = min_population

    def distance_km(self, a: Location | None, b: Location | None) -> float | None:
        """Great-circle km between two organisations, None when either cannot be placed."""
        if a is None or b is None:
            return None
        if _placed(a) and _placed(b):
            return distance_km(a, b, gazetteer=None)  # type: ignore[arg-type] - not consulted
        return distance_km(a, b, _gazetteer(self.min_population))


class PlacesProvider(DependencyProvider):
    def setup(self) -> None:
        settings = self.container.config.get("PAYMENTS") or {}
        self.places = Places(int(settings.get("gazetteer_min_population", DEFAULT_MIN_POPULATION)))

    def get_dependency(self, worker_ctx: Any) -> Places:
        return self.places
