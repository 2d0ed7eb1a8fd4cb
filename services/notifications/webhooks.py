"""Webhooks for partnership back-offices: endpoints (RPCs), the reaction that queues a
delivery per event and endpoint, and the worker that sends them (webhook_delivery).

Who: a contact point of a partnership or a `backoffice` token of that partnership manages that
partnership's endpoints; any other role is refused (403), and another partnership's endpoint
is not found (404). What: only events about the partnership's own members and exchanges
(webhook_scope), never the internal account events. See docs/webhooks.md.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import eventlet
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from common.db import dialect_insert, new_id, utcnow
from common.entrypoints import rpc
from common.errors import Conflict, NotAllowed, NotFound, PreconditionRequired, StaleVersion, ValidationFailed
from common.events import PAYLOAD_VERSION
from common.schemas import load, page_of
from services.notifications import signing, ssrf, webhook_delivery, webhook_scope
from services.notifications import webhook_schemas as schemas
from services.notifications.webhook_delivery import WebhookWorker
from services.notifications.webhook_models import (
    RegistrationPartnership,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

log = logging.getLogger(__name__)

PING_EVENT = "webhook_ping"
RESOLVE_SECONDS = 5  # well within the gateway's RPC timeout
MANAGERS = ("partnership_contact", "backoffice")

_create = schemas.CreateWebhookSchema()
_update = schemas.UpdateWebhookSchema()
_rotate = schemas.RotateSecretSchema()
_webhook = schemas.WebhookSchema()
_list_query = schemas.WebhookListQuerySchema()
_deliveries_query = schemas.DeliveryListQuerySchema()
_delivery = schemas.DeliverySchema()


def webhook_view(row: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    view = {key: getattr(row, key) for key in (
        "id", "partnership_id", "url", "description", "event_types", "active", "created_at",
        "updated_at", "secret_rotated_at", "version")}
    view["previous_secret_expires_at"] = row.previous_secret_until if row.previous_sealed_secret else None
    if secret is not None:
        view["secret"] = secret
    return _webhook.dump(view)


class Webhooks:
    """Mixed into NotificationsService (needs its db, auth, config, rpc_client, identity)."""

    webhook_worker = WebhookWorker()

    # --- who -----------------------------------------------------------------------

    def _managing_partnership(self) -> str:
        caller = self.auth.caller
        if not caller.has(*MANAGERS) or not caller.partnership_id:
            raise NotAllowed("Webhooks are managed by a partnership's contact points and its "
                             "back-office keys.")
        return caller.partnership_id

    def _own_endpoint(self, session: Session, webhook_id: str, partnership_id: str,
                      lock: bool = False) -> WebhookEndpoint:
        row = session.get(WebhookEndpoint, str(webhook_id)[:36], with_for_update=lock or None)
        if row is None or row.partnership_id != partnership_id:
            raise NotFound("No such webhook.")
        return row

    @property
    def _webhook_settings(self) -> dict[str, Any]:
        return self.config["WEBHOOKS"]

    def _checked_url(self, url: str) -> str:
        insecure = bool(self._webhook_settings.get("allow_insecure"))
        try:
            # Allowing any address, there is nothing a resolution could refuse (development).
            if insecure:
                ssrf.parse(url, insecure)
            else:
                with eventlet.Timeout(RESOLVE_SECONDS, ssrf.UnsafeTarget("The host name did not "
                                                                          "resolve in time.")):
                    ssrf.check(url)
        except ssrf.UnsafeTarget as exc:
            raise ValidationFailed("This URL cannot receive webhooks.", {"url": [str(exc)]}) from exc
        return url

    # --- endpoints -------------------------------------------------------------------

    @rpc
    def create_webhook(self, payload: dict[str, Any]) -> dict[str, Any]:
        partnership_id = self._managing_partnership()
        data = load(_create, payload or {})
        url = self._checked_url(data["url"])
        session = self.db.session
        count = session.scalar(select(func.count()).select_from(WebhookEndpoint)
                               .where(WebhookEndpoint.partnership_id == partnership_id))
        limit = int(self._webhook_settings.get("max_endpoints_per_partnership", 10))
        if count >= limit:
            raise Conflict(f"A partnership has at most {limit} webhooks; delete one first.")
        secret = signing.new_secret()
        now = utcnow()
        row = WebhookEndpoint(id=new_id(), partnership_id=partnership_id, url=url,
                              description=data.get("description"), event_types=data["event_types"],
                              active=data["active"], sealed_secret=self._box.seal(secret),
                              created_by=self.auth.caller.account_id, created_at=now, updated_at=now)
        session.add(row)
        try:
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            existing = session.scalar(select(WebhookEndpoint.id).where(
                WebhookEndpoint.partnership_id == partnership_id, WebhookEndpoint.url == url))
            raise Conflict(f"This URL is registered already (webhook {existing}).") from exc
        return webhook_view(row, secret)

    @rpc
    def list_webhooks(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        partnership_id = self._managing_partnership()
        data = load(_list_query, query or {})
        session = self.db.session
        where = WebhookEndpoint.partnership_id == partnership_id
        total = session.scalar(select(func.count()).select_from(WebhookEndpoint).where(where))
        rows = session.scalars(
            select(WebhookEndpoint).where(where).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
            .offset((data["page"] - 1) * data["per_page"]).limit(data["per_page"])).all()
        session.rollback()
        return page_of([webhook_view(row) for row in rows], total, data["page"], data["per_page"])

    @rpc
    def get_webhook(self, webhook_id: str) -> dict[str, Any]:
        partnership_id = self._managing_partnership()
        session = self.db.session
        view = webhook_view(self._own_endpoint(session, webhook_id, partnership_id))
        session.rollback()
        return view

    @rpc
    def update_webhook(self, webhook_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        partnership_id = self._managing_partnership()
        data = load(_update, payload or {})
        session = self.db.session
        row = self._own_endpoint(session, webhook_id, partnership_id)
        if data.get("version") is None:
            raise PreconditionRequired("Say which version you edited: send `version` or If-Match.")
        if data["version"] != row.version:
            raise StaleVersion("This webhook changed since you read it; reload it.",
                               {"version": ["Stale: reload and apply your change again."]})
        if "url" in data:
            row.url = self._checked_url(data["url"])
        for key in ("event_types", "description", "active"):
            if key in data:
                setattr(row, key, data[key])
        row.updated_at = utcnow()
        try:
            session.commit()
        except StaleDataError as exc:
            raise StaleVersion("This webhook changed since you read it; reload it.") from exc
        except IntegrityError as exc:
            raise Conflict("Another webhook of your partnership has this URL.") from exc
        if row.active:
            self.webhook_worker.wake()  # deliveries kept while it was inactive
        return webhook_view(row)

    @rpc
    def delete_webhook(self, webhook_id: str) -> dict[str, Any]:
        """The endpoint, its deliveries and their log."""
        partnership_id = self._managing_partnership()
        session = self.db.session
        row = self._own_endpoint(session, webhook_id, partnership_id, lock=True)
        deliveries = select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == row.id)
        session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == row.id))
        session.delete(row)
        session.commit()
        return {"id": row.id, "deleted": True}

    @rpc
    def rotate_webhook_secret(self, webhook_id: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """A new secret; the current one keeps signing too (a second v1) for the overlap. A
        second rotation within the overlap retires the oldest secret at once."""
        partnership_id = self._managing_partnership()
        data = load(_rotate, payload or {})
        overlap = data.get("overlap_seconds",
                           int(self._webhook_settings.get("rotation_overlap_seconds", 86400)))
        session = self.db.session
        row = self._own_endpoint(session, webhook_id, partnership_id, lock=True)
        secret, now = signing.new_secret(), utcnow()
        row.previous_sealed_secret = row.sealed_secret if overlap > 0 else None
        row.previous_secret_until = now + timedelta(seconds=overlap) if overlap > 0 else None
        row.sealed_secret = self._box.seal(secret)
        row.secret_rotated_at = row.updated_at = now
        try:
            session.commit()
        except StaleDataError as exc:
            raise StaleVersion("This webhook changed meanwhile; rotate again.") from exc
        return webhook_view(row, secret)

    @rpc
    def ping_webhook(self, webhook_id: str) -> dict[str, Any]:
        """A `webhook_ping` delivery to this endpoint alone, signed like any other."""
        partnership_id = self._managing_partnership()
        session = self.db.session
        row = self._own_endpoint(session, webhook_id, partnership_id)
        now = utcnow()
        event = {"event_id": new_id(), "event_type": PING_EVENT, "version": PAYLOAD_VERSION,
                 "occurred_at": now.isoformat(), "actor_id": self.auth.caller.account_id,
                 "webhook_id": row.id, "partnership_id": partnership_id}
        webhook_delivery.enqueue(session, endpoint_id=row.id, event=event, at=now)
        delivery_id = session.scalar(select(WebhookDelivery.id).where(
            WebhookDelivery.event_id == event["event_id"], WebhookDelivery.endpoint_id == row.id))
        session.commit()
        return {"event_id": event["event_id"], "event_type": PING_EVENT, "delivery_id": delivery_id}

    @rpc
    def list_webhook_deliveries(self, webhook_id: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """The delivery log, newest first, each delivery with every attempt."""
        partnership_id = self._managing_partnership()
        data = load(_deliveries_query, query or {})
        session = self.db.session
        row = self._own_endpoint(session, webhook_id, partnership_id)
        conditions = [WebhookDelivery.endpoint_id == row.id]
        if data.get("status"):
            conditions.append(WebhookDelivery.status == data["status"])
        if data.get("event_id"):
            conditions.append(WebhookDelivery.event_id == data["event_id"])
        total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(*conditions))
        deliveries = session.scalars(
            select(WebhookDelivery).where(*conditions)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
            .offset((data["page"] - 1) * data["per_page"]).limit(data["per_page"])).all()
        attempts: dict[int, list[dict[str, Any]]] = {}
        if deliveries:
            for attempt in session.scalars(select(WebhookAttempt).where(
                    WebhookAttempt.delivery_id.in_([d.id for d in deliveries]))
                    .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt)):
                attempts.setdefault(attempt.delivery_id, []).append({key: getattr(attempt, key) for key in (
                    "attempt", "started_at", "duration_ms", "response_status", "error", "outcome",
                    "next_attempt_at")})
        items = [_delivery.dump({
            **{key: getattr(d, key) for key in ("id", "event_id", "event_type", "status", "attempts",
                                                "last_status", "last_error", "created_at", "delivered_at")},
            "next_attempt_at": d.next_attempt_at if d.status == webhook_delivery.PENDING else None,
            "attempt_log": attempts.get(d.id, [])}) for d in deliveries]
        session.rollback()
        return page_of(items, total, data["page"], data["per_page"])

    # --- the reaction ----------------------------------------------------------------

    def react_webhooks(self, session: Session, event: dict[str, Any]) -> None:
        """A delivery per endpoint that wants this event and belongs to a partnership it
        concerns, in the transaction that claimed the event."""
        event_type = str(event.get("event_type") or "")
        if webhook_scope.deliverable(event_type) and event.get("registration_version") is not None:
            _project_registration(session, event)
        if not webhook_scope.deliverable(event_type):
            return
        endpoints = [row for row in session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))) if event_type in row.event_types]
        if not endpoints:
            return
        concerned = webhook_scope.partnerships_concerned(
            event, self._partnerships_of(session, webhook_scope.named_registrations(event)))
        now = utcnow()
        for endpoint in endpoints:
            if endpoint.partnership_id in concerned:
                webhook_delivery.enqueue(session, endpoint_id=endpoint.id, event=event, at=now)

    def _partnerships_of(self, session: Session, registration_ids: set[str]) -> dict[str, str]:
        """From the projection; a registration it does not know yet (its events are still on
        their way, or came before webhooks existed) is asked of registration."""
        if not registration_ids:
            return {}
        known = dict(session.execute(select(RegistrationPartnership.registration_id,
                                            RegistrationPartnership.partnership_id)
                                     .where(RegistrationPartnership.registration_id.in_(registration_ids))).all())
        missing = sorted(registration_ids - set(known))
        if missing:
            directory = self.rpc_client.call(
                "registration", "notification_recipients",
                {"account_ids": [], "registration_ids": missing, "partnership_ids": []},
                auth_token=self.identity.token)
            for registration_id, found in (directory.get("registrations") or {}).items():
                if found.get("partnership_id"):
                    known[registration_id] = found["partnership_id"]
        return known

    @property
    def _box(self) -> signing.SecretBox:
        return self.webhook_worker.box


def _project_registration(session: Session, event: dict[str, Any]) -> None:
    """registration -> partnership, the newest registration version winning."""
    if not event.get("registration_id") or not event.get("partnership_id"):
        return
    table = RegistrationPartnership.__table__
    insert = dialect_insert(session)(RegistrationPartnership).values(
        registration_id=str(event["registration_id"]), partnership_id=str(event["partnership_id"]),
        registration_version=int(event["registration_version"]))
    session.execute(insert.on_conflict_do_update(
        index_elements=[table.c.registration_id],
        set_={"partnership_id": insert.excluded.partnership_id,
              "registration_version": insert.excluded.registration_version},
        where=table.c.registration_version < insert.excluded.registration_version))
