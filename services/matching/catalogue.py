"""The catalogue's in-memory index, kept in step with the catalogue table.

The table is the truth; every container keeps its own MatchIndex built from it at start and
refreshed from rows changed since (a poll every MATCHING_INDEX_REFRESH_SECONDS). The
container that handles an event also applies it at once. So every instance converges within
a refresh interval whichever instance consumed the event.

"Changed since" is the catalogue's change counter (`change_seq`, see projection.py), not a
clock: counter values are handed out in commit order, so a refresh that reads
`change_seq > watermark` cannot miss a row that commits later with a smaller number, and a
quiet catalogue costs one indexed query that returns nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import eventlet
from eventlet import tpool
from nameko.extensions import DependencyProvider
from sqlalchemy import select

from common.db import Database
from common.errors import ServiceUnavailable
from services.matching import domain
from services.matching.engine import MatchIndex, Profile, Weights
from services.matching.models import CatalogueEntry

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 5.0


def to_profile(entry: Any) -> Profile:
    """A catalogue row (ORM object or Core row) as the engine's Profile."""
    profile = entry.profile
    org = profile.get("organisation") or {}
    prefs = profile.get("preferences") or {}
    return Profile(
        registration_id=entry.registration_id,
        version=entry.registration_version,
        roles=frozenset(profile.get("roles") or ()),
        country=org.get("country") or "",
        organisation_type=org.get("type") or "",
        sectors=frozenset(prefs.get("sectors") or ()),
        objectives=frozenset(prefs.get("objectives") or ()),
        activity_types=frozenset(prefs.get("activity_types") or ()),
        languages=frozenset(prefs.get("languages") or ()),
        modes=frozenset(prefs.get("modes") or ()),
        target_countries=frozenset(prefs.get("target_countries") or ()),
        availability=domain.availability(profile),
        host_capacity=entry.host_capacity,
        has_visited=entry.has_visited,
        text=domain.profile_text(profile),
        primary_sector=(prefs.get("sectors") or [""])[0],
    )


def weights_from_config(raw: str) -> Weights:
    if not raw:
        return Weights()
    return Weights(**{key: float(value) for key, value in json.loads(raw).items()})


class CatalogueIndex(DependencyProvider):
    def setup(self) -> None:
        cfg = self.container.config["MATCHING"]
        self.refresh_seconds = float(cfg.get("index_refresh_seconds", 0.5))
        self.weights = weights_from_config(cfg.get("weights", ""))
        self.database = next(d for d in self.container.dependencies if isinstance(d, Database))
        self.index = MatchIndex(self.weights)
        self.ready = eventlet.event.Event()
        self.watermark = 0
        self._running = False

    def start(self) -> None:
        self._running = True
        self.container.spawn_managed_thread(self._run, identifier="catalogue_index")

    def stop(self) -> None:
        self._running = False

    def get_dependency(self, worker_ctx: Any) -> CatalogueIndex:
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Wait for the first load; a worker must answer, so after `timeout` it is a 503
        (never eventlet.Timeout, a BaseException nameko would not catch)."""
        with eventlet.Timeout(timeout, False):
            self.ready.wait()
        if not self.ready.ready():
            raise ServiceUnavailable("The catalogue is still loading; try again shortly.")

    def _run(self) -> None:
        while self._running:
            try:
                if not self.ready.ready():
                    self.rebuild()
                    self.ready.send(True)
                else:
                    self.refresh()
            except Exception:
                log.exception("catalogue index refresh failed; retrying")
            eventlet.sleep(self.refresh_seconds)

    def rebuild(self) -> None:
        """A fresh index from the whole table, swapped in when complete."""
        with self.database.engine.connect() as conn:
            entries = conn.execute(select(CatalogueEntry.__table__)).all()
        profiles = [to_profile(e) for e in entries if e.listed]
        index = MatchIndex(self.weights)
        # Seconds of numpy work at 100k entries: in a native thread, so the hub keeps serving.
        tpool.execute(index.bulk_load, profiles)
        self.index = index
        self.watermark = max((e.change_seq for e in entries), default=0)

    def refresh(self) -> int:
        table = CatalogueEntry.__table__
        with self.database.engine.connect() as conn:
            entries = conn.execute(select(table).where(table.c.change_seq > self.watermark)
                                   .order_by(table.c.change_seq)).all()
        for entry in entries:
            self.apply(entry)
            self.watermark = max(self.watermark, entry.change_seq)
        return len(entries)

    def apply(self, entry: CatalogueEntry) -> None:
        if not entry.listed:
            self.index.remove(entry.registration_id)
            return
        # upsert ignores a version it already holds; capacity and visits change without
        # a new registration version, so they are applied from the row every time.
        self.index.upsert(to_profile(entry))
        self.index.set_host_capacity(entry.registration_id, entry.host_capacity)
        self.index.mark_visited(entry.registration_id, bool(entry.has_visited))
