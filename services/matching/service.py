"""Matching service: the catalogue read model, explained mutual matches, search, contacts."""

from __future__ import annotations

import logging
import os
from datetime import date
from typing import Any

from nameko.dependency_providers import Config
from nameko.timer import timer
from sqlalchemy import text
from sqlalchemy.orm.exc import StaleDataError

from common.auth import Auth, Caller
from common.db import Database, utcnow
from common.entrypoints import rpc
from common.errors import GatewayTimeout, NotAllowed, NotFound, ServiceUnavailable, StaleVersion
from common.events import handles, make_event
from common.idempotency import IdempotencyKeys
from common.logs import RequestContext
from common.outbox import OutboxRelay, record_event
from common.rpc import Rpc
from common.schemas import load, page_of
from services.matching import catalogue, domain, projection, repository
from services.matching.catalogue import CatalogueIndex
from services.matching.engine import SearchFilters
from services.matching.models import (
    ContactRequest,
    IdempotencyKey,
    InboxEvent,
    Message,
    OutboxEvent,
)
from services.matching.schemas import (
    AlumniQuerySchema,
    CatalogueQuerySchema,
    ContactListQuerySchema,
    ContactSchema,
    CreateContactSchema,
    CreateMessageSchema,
    MatchQuerySchema,
    MessageSchema,
)

log = logging.getLogger(__name__)

_catalogue_query = CatalogueQuerySchema()
_alumni_query = AlumniQuerySchema()
_match_query = MatchQuerySchema()
_create_contact = CreateContactSchema()
_contact = ContactSchema()
_contact_query = ContactListQuerySchema()
_create_message = CreateMessageSchema()
_message = MessageSchema()

EXPIRY_CHECK_SECONDS = float(os.environ.get("CONTACT_EXPIRY_CHECK_SECONDS", "60"))
REBUILD_PAGE = 500
CONTACT_DETAILS_TIMEOUT = 5.0


class MatchingService:
    name = "matching"

    config = Config()
    db = Database()
    relay = OutboxRelay(OutboxEvent, inbox=InboxEvent)
    auth = Auth()
    catalogue = CatalogueIndex()
    rpc_client = Rpc()
    idempotency = IdempotencyKeys(IdempotencyKey)
    request_context = RequestContext()

    @rpc
    def health(self) -> dict[str, Any]:
        self.db.reader.execute(text("SELECT 1"))
        return {"status": "ok", "listed": len(self.catalogue.index)}

    # --- the read model, from registration's events ------------------------------------

    @handles("registration", "registration_accepted")
    def handle_registration_accepted(self, payload: dict[str, Any]) -> None:
        self._apply_registration_event(payload, "handle_registration_accepted")

    @handles("registration", "registration_updated")
    def handle_registration_updated(self, payload: dict[str, Any]) -> None:
        self._apply_registration_event(payload, "handle_registration_updated")

    @handles("registration", "registration_withdrawn")
    def handle_registration_withdrawn(self, payload: dict[str, Any]) -> None:
        self._apply_registration_event(payload, "handle_registration_withdrawn")

    def _apply_registration_event(self, payload: dict[str, Any], handler: str) -> None:
        if self.catalogue.batches:
            # Committed with the events other workers submitted meanwhile (PostgreSQL).
            self.catalogue.submit(payload, handler)
            return
        written = catalogue.apply_registration_event(self.db.session, payload, handler)
        # A row to read again goes through the session's connection: one pool per worker.
        self.catalogue.apply_written(written, self.db.session.connection)

    # --- what exchanges change in the catalogue (agreements' events) --------------------

    @handles("agreements", "exchange_proposed")
    def handle_exchange_proposed(self, payload: dict[str, Any]) -> None:
        self._apply_exchange_event(payload, "handle_exchange_proposed")

    @handles("agreements", "exchange_confirmed")
    def handle_exchange_confirmed(self, payload: dict[str, Any]) -> None:
        self._apply_exchange_event(payload, "handle_exchange_confirmed")

    @handles("agreements", "exchange_cancelled")
    def handle_exchange_cancelled(self, payload: dict[str, Any]) -> None:
        self._apply_exchange_event(payload, "handle_exchange_cancelled")

    @handles("agreements", "exchange_completed")
    def handle_exchange_completed(self, payload: dict[str, Any]) -> None:
        self._apply_exchange_event(payload, "handle_exchange_completed")

    def _apply_exchange_event(self, payload: dict[str, Any], handler: str) -> None:
        changed = catalogue.apply_exchange_event(self.db.session, payload, handler)
        if changed:
            self.catalogue.reindex(self.db.session.connection(), changed)

    @rpc
    def rebuild_catalogue(self) -> dict[str, int]:
        """Replay every accepted registration from registration, page by page (admins).
        Replayed profiles follow the event rule (never older than the row), and an entry
        written while the rebuild ran is never unlisted by it."""
        caller = self.auth.caller
        caller.require("admin")
        session = self.db.session
        started_at_seq = projection.current_change_seq(session)
        session.commit()
        seen: set[str] = set()
        after_id = None
        while True:
            result = self.rpc_client.call("registration", "list_catalogue_profiles", after_id,
                                          REBUILD_PAGE, auth_token=caller.token, timeout=60)
            seen |= catalogue.store_profiles_page(session, result["items"])
            after_id = result["next_after"]
            if after_id is None:
                break
        removed = projection.unlist_unseen(session, seen, started_at_seq)
        self.catalogue.rebuild()
        return {"listed": len(seen), "removed": removed}

    # --- catalogue and matches -----------------------------------------------------------

    @rpc
    def list_alumni(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """Organisations with a completed exchange that chose to appear here, by sector and
        country (whoever may browse the catalogue may browse them)."""
        caller = self.auth.caller
        domain.ensure_may_browse(caller, self._own_entry(caller) is not None)
        params = load(_alumni_query, query or {})
        rows = repository.listed_alumni(self.db.reader)
        found = [row for row in rows if domain.is_alumnus(row.profile, params.get("sector"),
                                                          params.get("country"))]
        start = (params["page"] - 1) * params["per_page"]
        items = [catalogue.dump_view(row.profile) for row in found[start:start + params["per_page"]]]
        return page_of(items, len(found), params["page"], params["per_page"])

    @rpc
    def search_catalogue(self, query: dict[str, Any] | None = None,
                         encoded: bool = False) -> dict[str, Any]:
        """One page of the catalogue; `encoded`: the items as one JSON text (`items_json`)."""
        caller = self.auth.caller
        own = self._indexed_own_entry(caller)
        domain.ensure_may_browse(caller, own is not None)
        params = load(_catalogue_query, query or {})
        filters = SearchFilters(
            role=params.get("role"), country=params.get("country"), sector=params.get("sector"),
            organisation_type=params.get("organisation_type"),
            activity_type=params.get("activity_type"), language=params.get("language"),
            mode=params.get("mode"), available_from=_as_date(params.get("available_from")),
            available_to=_as_date(params.get("available_to")),
            exclude_ids=frozenset([own]) if own is not None else frozenset(),
        )
        self.catalogue.wait_ready()
        key = ("search", params.get("q"), filters, params["page"], params["per_page"])
        return self.catalogue.page(key, lambda: self._search_page(params, filters), encoded)

    def _search_page(self, params: dict[str, Any], filters: SearchFilters) -> dict[str, Any]:
        offset = (params["page"] - 1) * params["per_page"]
        hits, total = self.catalogue.index.search(params.get("q"), filters, offset, params["per_page"])
        views = self.catalogue.views(self.db.reader, [registration_id for registration_id, _ in hits])
        items = [{**views[registration_id], "relevance": float(relevance) if params.get("q") else None}
                 for registration_id, relevance in hits if registration_id in views]
        return page_of(items, total, params["page"], params["per_page"])

    @rpc
    def get_catalogue_entry(self, registration_id: str) -> dict[str, Any]:
        caller = self.auth.caller
        own = self._own_entry(caller)
        domain.ensure_may_browse(caller, own is not None)
        entry = repository.listed_entry(self.db.reader, registration_id)
        if entry is None:
            raise NotFound("No such registration in the catalogue.")
        view = catalogue.dump_view(entry.profile)
        if entry.account_id == caller.account_id or repository.connected(
                self.db.reader, caller.account_id, entry.account_id):
            view["contact"] = self._contact_details(caller, registration_id)
        return view

    @rpc
    def get_matches(self, query: dict[str, Any], encoded: bool = False) -> dict[str, Any]:
        """One page of the best matches of a registration (`total`: every counterpart);
        `encoded`: the items as one JSON text (`items_json`)."""
        caller = self.auth.caller
        params = load(_match_query, query or {})
        registration_id = params["registration_id"]
        owner = self.catalogue.owners.get(registration_id)
        if owner is None:  # not indexed (yet): the table says
            owner = repository.listed_owner(self.db.reader, registration_id)
        if owner is None:
            raise NotFound("No such registration in the catalogue; matches come once it is accepted.")
        domain.ensure_may_match(caller, *owner)
        self.catalogue.wait_ready()
        if registration_id not in self.catalogue.index:
            # Listed in the table but not yet folded into this process's index: fold it now.
            self.catalogue.reindex(self.db.reader, {registration_id})
        key = ("matches", registration_id, params["page"], params["per_page"])
        return self.catalogue.page(key, lambda: self._match_page(registration_id, params), encoded)

    def _match_page(self, registration_id: str, params: dict[str, Any]) -> dict[str, Any]:
        found, total = self.catalogue.index.match_page(
            registration_id, (params["page"] - 1) * params["per_page"], params["per_page"])
        views = self.catalogue.views(self.db.reader, [m.registration_id for m in found])
        items = [{**m.view(), "profile": views[m.registration_id]}
                 for m in found if m.registration_id in views]
        return page_of(items, total, params["page"], params["per_page"])

    # --- contacts ------------------------------------------------------------------------

    @rpc
    def create_contact(self, payload: dict[str, Any],
                       idempotency_key: str | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        caller.require("participant")
        data = load(_create_contact, payload)
        session = self.db.session
        return self.idempotency.run(session, idempotency_key, caller.account_id, "create_contact",
                                    payload, lambda: self._create_contact(caller, data))

    def _create_contact(self, caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
        session = self.db.session
        own = repository.own_entry_for_update(session, caller.account_id)
        if own is None:
            # Staff roles may browse, but only a listed participant can ask for contact.
            raise NotAllowed("Contact requests come from an accepted registration; yours is not "
                             "in the catalogue.")
        target = repository.get_entry(session, data["registration_id"])
        if target is None or not target.listed:
            raise NotFound("No such registration in the catalogue.")
        domain.check_new_contact(own.registration_id, own.account_id, target.registration_id,
                                 target.account_id,
                                 repository.open_requests_from(session, own.registration_id),
                                 self.config["MATCHING"]["max_open_contacts"],
                                 repository.live_contact_between(session, own.account_id,
                                                                 target.account_id))
        now = utcnow()
        contact = ContactRequest(
            requester_registration_id=own.registration_id, requester_account_id=own.account_id,
            recipient_registration_id=target.registration_id,
            recipient_account_id=target.account_id, message=data["message"], status=domain.OPEN,
            created_at=now,
            expires_at=domain.expiry(now, self.config["MATCHING"]["contact_expiry_days"]))
        session.add(contact)
        session.flush()
        self._emit(contact, "contact_requested", caller.account_id)
        return self._contact_view(contact, caller)

    @rpc
    def list_contacts(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        params = load(_contact_query, query or {})
        rows, total = repository.contacts_of(self.db.reader, caller.account_id, params.get("status"),
                                             (params["page"] - 1) * params["per_page"],
                                             params["per_page"])
        names = repository.public_names(self.db.reader, [_counterpart_id(row, caller) for row in rows])
        return page_of([self._contact_view(row, caller, names) for row in rows], total,
                       params["page"], params["per_page"])

    @rpc
    def get_contact(self, contact_id: str) -> dict[str, Any]:
        caller = self.auth.caller
        contact = self._visible_contact(contact_id, caller)
        return self._contact_view(contact, caller)

    @rpc
    def answer_contact(self, contact_id: str, accept: bool) -> dict[str, Any]:
        caller = self.auth.caller
        session = self.db.session
        contact = self._visible_contact(contact_id, caller, for_update=True)
        now = utcnow()
        contact.status = domain.next_state_on_answer(
            contact.status, caller.account_id, contact.recipient_account_id, bool(accept),
            contact.expires_at, now)
        contact.responded_at = now
        self._emit(contact, "contact_accepted" if accept else "contact_declined", caller.account_id)
        try:
            session.commit()
        except StaleDataError as exc:
            raise StaleVersion("The request changed meanwhile; reload it.") from exc
        return self._contact_view(contact, caller)

    @rpc
    def list_messages(self, contact_id: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        params = load(_contact_query, query or {})
        self._visible_contact(contact_id, caller)
        rows, total = repository.messages_of(self.db.reader, contact_id,
                                             (params["page"] - 1) * params["per_page"],
                                             params["per_page"])
        return page_of([_message_view(row, caller) for row in rows], total, params["page"],
                       params["per_page"])

    @rpc
    def get_message(self, contact_id: str, message_id: str) -> dict[str, Any]:
        caller = self.auth.caller
        self._visible_contact(contact_id, caller)
        row = repository.message_row(self.db.reader, contact_id, message_id)
        if row is None:
            raise NotFound("No such message.")
        return _message_view(row, caller)

    @rpc
    def post_message(self, contact_id: str, payload: dict[str, Any],
                     idempotency_key: str | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        data = load(_create_message, payload)
        session = self.db.session

        def post() -> dict[str, Any]:
            contact = self._visible_contact(contact_id, caller, writing=True)
            domain.ensure_conversation_open(contact.status)
            message = Message(contact_id=contact.id, author_account_id=caller.account_id,
                              body=data["body"], created_at=utcnow())
            session.add(message)
            session.flush()
            record_event(session, OutboxEvent, make_event("message_posted", {
                **_contact_parties(contact), "message_id": message.id,
                "author_account_id": caller.account_id}, caller.account_id))
            return _message_view(message, caller)

        return self.idempotency.run(session, idempotency_key, caller.account_id, "post_message",
                                    [contact_id, payload], post)

    @timer(interval=EXPIRY_CHECK_SECONDS)
    def expire_contacts(self) -> int:
        """Open requests past their expiry date become expired (and say so)."""
        session = self.db.session
        due = repository.expired_open(session, utcnow())
        for contact in due:
            contact.status = domain.EXPIRED
            self._emit(contact, "contact_expired", None)
        try:
            session.commit()
        except StaleDataError:
            session.rollback()  # answered meanwhile; the next run sees the rest
            return 0
        return len(due)

    # --- helpers ---------------------------------------------------------------------------

    def _own_entry(self, caller: Caller) -> Any:
        return repository.own_entry(self.db.reader, caller.account_id)

    def _indexed_own_entry(self, caller: Caller) -> str | None:
        """The caller's listed registration id, from the index; a participant not indexed
        yet is looked up (staff have none, and are not)."""
        found = self.catalogue.entry_of_account.get(caller.account_id)
        if found is None and caller.has("participant"):
            own = self._own_entry(caller)
            found = own.registration_id if own is not None else None
        return found

    def _contact_details(self, caller: Caller, registration_id: str) -> dict[str, Any] | None:
        """From registration, which owns them and checks the caller's right with its own
        token. None until registration has processed the accepted contact, and None (logged)
        while registration cannot answer: the entry itself is matching's to serve."""
        try:
            return self.rpc_client.call("registration", "get_contact_details", registration_id,
                                        auth_token=caller.token, timeout=CONTACT_DETAILS_TIMEOUT,
                                        confirm=True)
        except NotFound:
            return None
        except (ServiceUnavailable, GatewayTimeout) as exc:
            log.warning("contact details of %s left out: %s", registration_id, exc)
            return None

    def _visible_contact(self, contact_id: str, caller: Caller, for_update: bool = False,
                         writing: bool = False) -> Any:
        """The contact if the caller is a party to it. Read through the session when the
        worker will write (so one connection serves it), else through the reader."""
        if writing or for_update:
            contact = repository.contact_for_update(self.db.session, contact_id, for_update)
        else:
            contact = repository.contact_row(self.db.reader, contact_id)
        if contact is None:
            raise NotFound("No such contact.")
        domain.ensure_party(caller, contact.requester_account_id, contact.recipient_account_id)
        return contact

    def _contact_view(self, contact: Any, caller: Caller,
                      names: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        direction = "sent" if contact.requester_account_id == caller.account_id else "received"
        counterpart_id = _counterpart_id(contact, caller)
        if names is None:
            names = repository.public_names(self.db.reader, [counterpart_id])
        organisation = names.get(counterpart_id) or {}
        return _contact.dump({
            "id": contact.id, "status": contact.status, "direction": direction,
            "requester_registration_id": contact.requester_registration_id,
            "recipient_registration_id": contact.recipient_registration_id,
            "counterpart": {"registration_id": counterpart_id, "name": organisation.get("name"),
                            "country": organisation.get("country")},
            "message": contact.message, "created_at": contact.created_at,
            "expires_at": contact.expires_at, "responded_at": contact.responded_at,
            "version": contact.version})

    def _emit(self, contact: ContactRequest, event_type: str, actor_id: str | None) -> None:
        record_event(self.db.session, OutboxEvent,
                     make_event(event_type, _contact_parties(contact), actor_id))


def _counterpart_id(contact: Any, caller: Caller) -> str:
    if contact.requester_account_id == caller.account_id:
        return contact.recipient_registration_id
    return contact.requester_registration_id


def _contact_parties(contact: ContactRequest) -> dict[str, Any]:
    return {"contact_id": contact.id, "status": contact.status,
            "requester_registration_id": contact.requester_registration_id,
            "requester_account_id": contact.requester_account_id,
            "recipient_registration_id": contact.recipient_registration_id,
            "recipient_account_id": contact.recipient_account_id}


def _message_view(message: Any, caller: Caller) -> dict[str, Any]:
    return _message.dump({"id": message.id, "contact_id": message.contact_id,
                          "mine": message.author_account_id == caller.account_id,
                          "body": message.body, "created_at": message.created_at})


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)
