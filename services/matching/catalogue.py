"""The catalogue: the projection of registration's and agreements' events into the catalogue
table, and the in-memory index kept in step with that table.

The table is the truth; every container keeps its own MatchIndex built from it at start and
refreshed from rows changed since (a poll every MATCHING_INDEX_REFRESH_SECONDS). The
container that handles an event also applies it at once. So every instance converges within
a refresh interval whichever instance consumed the event.

"Changed since" is the catalogue's change counter (`change_seq`, see projection.py), not a
clock: counter values are handed out in commit order, so a refresh that reads
`change_seq > watermark` cannot miss a row that commits later with a smaller number, and a
quiet catalogue costs one indexed query that returns nothing.

What a read returns is prepared once per catalogue change, not per request: each entry's
public view is dumped once (when its row is applied, or on first read) and kept, and whole
pages of matches and search results are kept until the index next changes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Hashable
from typing import Any

import eventlet
from eventlet import tpool
from eventlet.queue import Empty, LightQueue
from nameko.extensions import DependencyProvider
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from common.db import Database, is_postgres
from common.errors import ServiceUnavailable
from common.metrics import MATCHING_INDEX_ENTRIES, MATCHING_INDEX_LAG
from common.outbox import first_deliveries, first_delivery
from services.matching import domain, exchanges, projection, repository
from services.matching.engine import MatchIndex, Profile, Weights
from services.matching.models import CatalogueEntry, InboxEvent
from services.matching.schemas import CatalogueEntrySchema

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 5.0
# Dumped public views kept (all of them up to here; past it the cache starts over).
MAX_VIEWS = 200_000
# Pages of matches and search results kept between two changes of the catalogue.
MAX_PAGES = 4096

_entry = CatalogueEntrySchema()


def dump_view(profile: dict[str, Any]) -> dict[str, Any]:
    """A catalogue entry as any accepted participant may see it, ready to send."""
    return _entry.dump(domain.public_view(profile))


# --- the projection: events into the catalogue table -------------------------------------

def apply_registration_event(session: Session, payload: dict[str, Any],
                             handler: str) -> dict[str, Any]:
    """Store a registration event's profile (first delivery only) and commit; returns the
    rows that changed by registration id: the committed row where this transaction wrote
    it last (the index takes it as it is), None where it must be read again."""
    if not first_delivery(session, InboxEvent, payload["event_id"], handler):
        return {}
    registration_id = payload["registration_id"]
    # Asked before the upsert, which takes the change counter's lock: every statement run
    # while it is held makes every other catalogue writer wait.
    in_exchange = bool(domain.is_listed(payload) and exchanges.linked(session, {registration_id}))
    entry = projection.store_profile(session, payload)
    if entry is None:
        session.commit()
        return {}
    if entry.listed and (in_exchange or
                         entry.host_capacity != exchanges.declared_capacity(entry.profile or {})):
        # A declared capacity may have changed: the open capacity follows it (an entry in
        # no exchange that hosts what it declared has nothing to recompute).
        exchanges.refresh(session, {entry.registration_id})
        session.commit()
        return {entry.registration_id: None}
    session.commit()
    return {entry.registration_id: entry}


def apply_registration_events(session: Session,
                              events: list[tuple[dict[str, Any], str]]) -> dict[str, Any]:
    """`apply_registration_event` for a batch of (payload, handler) in one transaction: one
    statement claims them in the inbox, one takes the change counter (its lock once per
    batch instead of once per event), one upserts the rows. Of several events of one
    registration only the newest version is written: the conditional upsert would let it
    win whatever the order, and the others are claimed all the same. Committed."""
    claims = sorted({(payload["event_id"], handler) for payload, handler in events})
    claimed = first_deliveries(session, InboxEvent, claims)
    newest: dict[str, dict[str, Any]] = {}
    for payload, _handler in events:
        if payload["event_id"] not in claimed:
            continue
        claimed.discard(payload["event_id"])  # a twin in the same batch is a redelivery
        held = newest.get(payload["registration_id"])
        if held is None or _version(payload) > _version(held):
            newest[payload["registration_id"]] = payload
    payloads = list(newest.values())
    in_exchange = exchanges.linked(session, {p["registration_id"] for p in payloads
                                             if domain.is_listed(p)})
    rows = projection.store_profiles(session, payloads)
    again = {row.registration_id for row in rows if row.listed and (
        row.registration_id in in_exchange
        or row.host_capacity != exchanges.declared_capacity(row.profile or {}))}
    if again:
        exchanges.refresh(session, again)
    session.commit()
    return {row.registration_id: None if row.registration_id in again else row for row in rows}


def _version(payload: dict[str, Any]) -> int:
    return int(payload.get("registration_version") or 0)


def apply_exchange_event(session: Session, payload: dict[str, Any], handler: str) -> set[str]:
    """Visits and open capacity of an exchange's parties (first delivery only), committed."""
    if not first_delivery(session, InboxEvent, payload["event_id"], handler):
        return set()
    parties = {payload["visitor_registration_id"], payload["host_registration_id"]}
    changed = exchanges.refresh(session, parties) if exchanges.store_link(session, payload) else []
    session.commit()
    return set(changed)


def store_profiles_page(session: Session, profiles: list[dict[str, Any]]) -> set[str]:
    """One page of a rebuild: replayed profiles, with the visits and capacity matching knows."""
    page_ids = set()
    for profile in profiles:
        projection.store_profile(session, profile)
        page_ids.add(profile["registration_id"])
    exchanges.refresh(session, exchanges.linked(session, page_ids))
    session.commit()
    return page_ids


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
        self.version = 0  # bumped by every change of the index
        self._views: dict[str, dict[str, Any]] = {}
        # The change counter value of the row applied last, by registration id.
        self._applied_seq: dict[str, int] = {}
        self._pages: dict[Hashable, Any] = {}
        # Who owns each indexed entry, and each account's entry: who may see which matches
        # is decided without a query (a registration not indexed yet is looked up).
        self.owners: dict[str, tuple[str, str]] = {}
        self.entry_of_account: dict[str, str] = {}
        self._running = False
        self.refreshed_at: float | None = None  # monotonic time of the last successful load
        # Registration events waiting for the batch writer (PostgreSQL): see `submit`.
        # At most half the workers (each delivery waits in one until its batch commits): the
        # other half fills with the next batch's deliveries while one is being committed.
        workers = int(self.container.config.get("max_workers", 10))
        self.event_batch = min(int(cfg.get("event_batch", 100)), max(workers // 2, 1))
        self.batches = False
        self._events: LightQueue = LightQueue()

    def start(self) -> None:
        self._running = True
        # Decided here: the database's engine exists once every dependency is set up.
        self.batches = self.event_batch > 1 and is_postgres(self.database.engine)
        self.container.spawn_managed_thread(self._run, identifier="catalogue_index")
        if self.batches:
            self.container.spawn_managed_thread(self._write_batches, identifier="catalogue_writer")

    def stop(self) -> None:
        self._running = False
        if self.batches:
            self._events.put(None)

    def kill(self) -> None:
        # As common.outbox.OutboxRelay.kill: the refresher would go on polling forever.
        self.stop()

    # --- registration events, committed in batches -------------------------------------------

    def submit(self, payload: dict[str, Any], handler: str) -> None:
        """Apply a registration event together with whatever other workers of this process
        submitted meanwhile, and return once it is committed (the worker acknowledges the
        message only then: at least once, as before). Raises what applying it raised."""
        done = eventlet.event.Event()
        self._events.put((payload, handler, done))
        done.wait()

    def _write_batches(self) -> None:
        """Takes what is waiting (up to MATCHING_EVENT_BATCH, never waiting for more: the
        batch is whatever arrived while the previous one was being committed)."""
        while self._running:
            first = self._events.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self.event_batch:
                try:
                    more = self._events.get_nowait()
                except Empty:
                    break
                if more is None:
                    self._running = False
                    break
                batch.append(more)
            self._write_batch(batch)
        while True:  # stopping: what is left is not acknowledged, so it comes back
            try:
                left = self._events.get_nowait()
            except Empty:
                break
            if left is not None:
                left[2].send_exception(ServiceUnavailable("matching is stopping"))

    def _write_batch(self, batch: list[tuple[dict[str, Any], str, Any]]) -> None:
        try:
            with self.database.new_session() as session:
                written = apply_registration_events(session, [(p, h) for p, h, _done in batch])
            outcomes: list[BaseException | None] = [None] * len(batch)
        except Exception:
            log.warning("a batch of %d registration events failed; applying them one by one",
                        len(batch), exc_info=True)
            written, outcomes = {}, []
            for payload, handler, _done in batch:  # one bad event must not fail the others
                try:
                    with self.database.new_session() as session:
                        written.update(apply_registration_event(session, payload, handler))
                    outcomes.append(None)
                except Exception as exc:  # noqa: BLE001 - it goes to its worker
                    outcomes.append(exc)
        try:
            self.apply_written(written)
        except Exception:  # committed: the poll folds the rows in
            log.exception("could not apply committed catalogue rows to the index")
        for (_payload, _handler, done), outcome in zip(batch, outcomes, strict=True):
            if outcome is None:
                done.send(None)
            else:
                done.send_exception(outcome)

    def get_dependency(self, worker_ctx: Any) -> CatalogueIndex:
        return self

    # --- common.health hooks ---------------------------------------------------------------

    def readiness(self) -> str | None:
        """Not ready until the first load is in: its matches would be missing entries."""
        return None if self.ready.ready() else "the catalogue index is not built yet"

    def report_metrics(self) -> None:
        service = self.container.service_name
        MATCHING_INDEX_ENTRIES.labels(service).set(len(self.owners))
        if self.refreshed_at is not None:
            MATCHING_INDEX_LAG.labels(service).set(time.monotonic() - self.refreshed_at)

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
                self.refreshed_at = time.monotonic()
            except Exception:
                log.exception("catalogue index refresh failed; retrying")
            eventlet.sleep(self.refresh_seconds)

    def rebuild(self) -> None:
        """A fresh index from the whole table, swapped in when complete."""
        with self.database.engine.connect() as conn:
            entries = repository.every_entry(conn)
        profiles = [to_profile(e) for e in entries if e.listed]
        index = MatchIndex(self.weights)
        # Seconds of numpy work at 100k entries: in a native thread, so the hub keeps serving.
        tpool.execute(index.bulk_load, profiles)
        self.index = index
        self.watermark = max((e.change_seq for e in entries), default=0)
        self._applied_seq = {e.registration_id: e.change_seq for e in entries}
        self.owners = {e.registration_id: (e.account_id, e.partnership_id) for e in entries if e.listed}
        self.entry_of_account = {e.account_id: e.registration_id for e in entries if e.listed}
        self._views = {}
        self._changed()

    def refresh(self) -> int:
        with self.database.engine.connect() as conn:
            entries = repository.changed_since(conn, self.watermark)
        for entry in entries:
            self.apply(entry)
            self.watermark = max(self.watermark, entry.change_seq)
        return len(entries)

    def reindex(self, conn: Connection, registration_ids: set[str]) -> None:
        """Apply these rows now (the process that wrote them does not wait for the poll)."""
        for row in repository.entry_rows(conn, registration_ids):
            self.apply(row)

    def apply_written(self, written: dict[str, Any],
                      conn_of: Callable[[], Connection] | None = None) -> None:
        """Apply what was just committed: the rows the writes returned as they are, the
        others (None) read again, through `conn_of()` (called only then) or a connection
        of its own."""
        for row in written.values():
            if row is not None:
                self.apply(row)
        again = {rid for rid, row in written.items() if row is None}
        if again and conn_of is not None:
            self.reindex(conn_of(), again)
        elif again:
            with self.database.engine.connect() as conn:
                self.reindex(conn, again)

    def apply(self, entry: CatalogueEntry) -> None:
        # A row older than one applied already (two workers of this process committing the
        # same registration, or the poll reading back what a handler applied) is skipped:
        # rows are applied in change-counter order, each at most once.
        if entry.change_seq <= self._applied_seq.get(entry.registration_id, 0):
            return
        self._changed()
        if not entry.listed:
            self.index.remove(entry.registration_id)
            self._views.pop(entry.registration_id, None)
            self.owners.pop(entry.registration_id, None)
            if self.entry_of_account.get(entry.account_id) == entry.registration_id:
                del self.entry_of_account[entry.account_id]
            self._applied_seq[entry.registration_id] = entry.change_seq
            return
        self.owners[entry.registration_id] = (entry.account_id, entry.partnership_id)
        self.entry_of_account[entry.account_id] = entry.registration_id
        # upsert ignores a version it already holds; capacity and visits change without
        # a new registration version, so they are applied from the row every time.
        self.index.upsert(to_profile(entry))
        self.index.set_host_capacity(entry.registration_id, entry.host_capacity)
        self.index.mark_visited(entry.registration_id, bool(entry.has_visited))
        if entry.registration_id in self._views:
            self._views[entry.registration_id] = dump_view(entry.profile)
        self._applied_seq[entry.registration_id] = entry.change_seq

    def _changed(self) -> None:
        self.version += 1
        self._pages.clear()

    # --- what reads return, prepared once per change ----------------------------------------

    def views(self, conn: Connection, registration_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The dumped public views of these listed entries (those not listed are left out)."""
        missing = [rid for rid in registration_ids if rid not in self._views]
        if missing:
            version = self.version
            rows = repository.listed_entries(conn, missing)
            if version == self.version:  # nothing applied while we read: the rows are current
                if len(self._views) + len(rows) > MAX_VIEWS:
                    self._views = {}
                for registration_id, row in rows.items():
                    self._views[registration_id] = dump_view(row.profile)
            else:
                return {**{rid: self._views[rid] for rid in registration_ids if rid in self._views},
                        **{rid: dump_view(row.profile) for rid, row in rows.items()}}
        return {rid: self._views[rid] for rid in registration_ids if rid in self._views}

    def page(self, key: Hashable, compute: Callable[[], dict[str, Any]],
             encoded: bool = False) -> dict[str, Any]:
        """`compute()`'s page (items, total, page, per_page), kept under `key` until the index
        changes. `encoded`: the items as one JSON text (`items_json`), encoded once per
        page, which the gateway sends as it is."""
        found = self._pages.get(key)
        if found is None:
            version = self.version
            found = [compute(), None]
            if version == self.version:
                if len(self._pages) >= MAX_PAGES:
                    self._pages.clear()
                self._pages[key] = found
        if not encoded:
            return found[0]
        if found[1] is None:
            found[1] = {**{k: v for k, v in found[0].items() if k != "items"},
                        "items_json": json.dumps(found[0]["items"], separators=(",", ":"))}
        return found[1]
